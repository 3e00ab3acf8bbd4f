"""Photos people upload (a team's, a paper card's): checked to be an image we read, within a size
and a pixel count, and written anew as a JPEG, turned upright, resized, with no EXIF (a phone's
photo carries where and when it was taken)."""

import io

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# Refused before decoding: a small file can claim a huge canvas (a decompression bomb).
PHOTO_MAX_PIXELS = 50_000_000


def photo_clean(*, file, max_bytes: int, max_side: int, quality: int = 85) -> ContentFile:
    """The upload as a clean JPEG no larger than max_side on either side; ValidationError, naming
    the limit, for anything too large or not an image."""
    size = getattr(file, "size", None)
    if size is None or size > max_bytes:
        raise ValidationError(
            _("The photo is larger than %(limit)s MB: send a smaller one.") % {"limit": _megabytes(max_bytes)},
            code="photo_too_large",
        )
    file.seek(0)
    try:
        with Image.open(file) as image:
            if image.format not in PHOTO_FORMATS:
                raise ValidationError(_("Send the photo as a JPEG, PNG or WebP image."), code="photo_format")
            if image.width * image.height > PHOTO_MAX_PIXELS:
                raise ValidationError(
                    _("The photo has more than %(limit)s million pixels.") % {"limit": PHOTO_MAX_PIXELS // 1_000_000},
                    code="photo_too_many_pixels",
                )
            image.seek(0)  # an animation: its first frame
            upright = ImageOps.exif_transpose(image)
            upright = upright.convert("RGB")
            upright.thumbnail((max_side, max_side))
            out = io.BytesIO()
            upright.save(out, format="JPEG", quality=quality, optimize=True)  # no exif= given: none kept
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as error:
        raise ValidationError(_("This file is not an image we can read."), code="photo_unreadable") from error
    finally:
        file.seek(0)
    return ContentFile(out.getvalue(), name="photo.jpg")


def _megabytes(value: int) -> str:
    return f"{value / 1_000_000:g}"
