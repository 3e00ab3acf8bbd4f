import re
import secrets

from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import models
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.translation import gettext_lazy as _

from allocation.models import Name, Order

# Crockford's base 32: no I, L, O or U, so a code read off paper is not mistyped.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 12 characters = 60 random bits: unguessable, and still short enough to type.
CODE_LENGTH = 12
_CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_verification_code(value: str) -> str | None:
    """A code as typed (any case, with hyphens or spaces, O for 0): its canonical form, or None."""
    code = re.sub(r"[\s-]", "", value or "").upper().translate(_CROCKFORD_ALIASES)
    return code if _CODE_RE.match(code) else None


class _CertificatesStorage(LazyObject):
    """STORAGES["certificates"], looked up when first used and again after STORAGES changes
    (tests point it at a temporary folder)."""

    def _setup(self):
        self._wrapped = storages["certificates"]


_certificates_storage = _CertificatesStorage()


@receiver(setting_changed)
def _certificates_storage_reset(*, setting, **kwargs):
    if setting == "STORAGES":
        _certificates_storage._wrapped = empty


def certificates_storage():
    return _certificates_storage


def certificate_upload_to(certificate, filename):
    return f"orders/{certificate.name.order_id}/{filename}"


def sheet_upload_to(sheet, filename):
    return f"orders/{sheet.order_id}/{filename}"


class CertificateSheet(models.Model):
    """The certificates of one batch as WeasyPrint drew them: each name's page, and the pages
    they are laid over. A booklet is assembled from these without drawing anything again."""

    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="certificate_sheets", verbose_name=_("order")
    )
    file = models.FileField(_("pages"), storage=certificates_storage, upload_to=sheet_upload_to, max_length=255)
    background = models.FileField(
        _("background pages"), storage=certificates_storage, upload_to=sheet_upload_to, max_length=255
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("sheet of certificates")
        verbose_name_plural = _("sheets of certificates")

    def __str__(self):
        return f"#{self.order_id} {self.file.name}"


class Certificate(models.Model):
    """The certificate of one name's letter: issued once, its code never changed. It is drawn
    again only when staff correct the name (certificates.services.certificate_redraw)."""

    name = models.OneToOneField(Name, on_delete=models.PROTECT, related_name="certificate", verbose_name=_("name"))
    code = models.CharField(
        _("verification code"), max_length=CODE_LENGTH, unique=True, default=new_verification_code, editable=False
    )
    file = models.FileField(_("PDF"), storage=certificates_storage, upload_to=certificate_upload_to, max_length=255)
    size = models.PositiveIntegerField(_("size (bytes)"))
    issued_at = models.DateTimeField(_("issued"), default=timezone.now, db_index=True)
    # Where the certificate's page is in its sheet, and the page of the sheet's background
    # it is drawn over.
    sheet = models.ForeignKey(
        CertificateSheet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="certificates",
        verbose_name=_("sheet of certificates"),
    )
    sheet_page = models.PositiveIntegerField(_("page in the sheet"), null=True, blank=True)
    sheet_background_page = models.PositiveIntegerField(_("page of the background"), null=True, blank=True)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["name_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$"), name="certificate_code_format"
            ),
        ]

    def __str__(self):
        return self.display_code

    @property
    def display_code(self):
        """ABCD-EFGH-JKMN: easier to read aloud and to type."""
        return "-".join(self.code[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def booklet_upload_to(state, filename):
    return f"orders/{state.order_id}/{filename}"


class OrderCertificates(models.Model):
    """What has been done for an order's certificates: all issued, the buyer emailed (once),
    the booklet built. A row is written when the work is done; the sweeper looks for allocated
    orders without a completed row."""

    order = models.OneToOneField(
        Order,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="certificates_state",
        verbose_name=_("order"),
    )
    # Every name holds its certificate, and the buyer (if any) has been emailed.
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("certificates emailed"), null=True, blank=True)
    emailed_as_attachments = models.BooleanField(_("emailed as attachments"), default=False)
    booklet = models.FileField(
        _("booklet"), storage=certificates_storage, upload_to=booklet_upload_to, max_length=255, blank=True
    )
    booklet_built_at = models.DateTimeField(_("booklet built"), null=True, blank=True)

    class Meta:
        verbose_name = _("certificates of an order")
        verbose_name_plural = _("certificates of orders")

    def __str__(self):
        return f"#{self.order_id}"
