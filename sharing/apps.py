from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SharingConfig(AppConfig):
    """Sharing: the Open Graph and Twitter card tags of the public pages and the share images
    they point to (PNG, 1200x630, drawn by the server and cached), and the thank-you page's
    share links."""

    name = "sharing"
    verbose_name = _("Sharing")

    def ready(self):
        from . import checks  # noqa: F401  (registers the start-up check)
