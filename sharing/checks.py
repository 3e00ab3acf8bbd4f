from django.core.checks import Warning, register
from PIL import features

from . import drawing


@register()
def sharing_drawing_check(app_configs, **kwargs):
    """Share images need Pillow's raqm layout (libfribidi0) and the Culmus and Noto fonts:
    said at start-up, not at the first share."""
    problems = []
    if not features.check("raqm"):
        problems.append(
            Warning(
                "Pillow has no raqm layout: share images cannot draw Hebrew right to left.",
                hint="Install Debian's libfribidi0 (the Makefile's DEBIAN_PACKAGES, the Dockerfile).",
                id="sharing.W001",
            )
        )
    for family, style in (drawing.HEBREW_FONT, drawing.LATIN_FONT, drawing.LATIN_BOLD_FONT):
        try:
            drawing.font_file(family, style)
        except drawing.SharingUnavailable as error:
            problems.append(Warning(str(error), hint="Install Debian's culmus and fonts-noto-core.", id="sharing.W002"))
    return problems
