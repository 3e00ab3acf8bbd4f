from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from scrolls.models import Scroll


class Siyum(models.Model):
    """The completion of a scroll: held once (one-to-one), recorded by staff
    (siyum.services.scroll_siyum_hold), which gives the remaining honour letters and completes
    the scroll in the same transaction."""

    scroll = models.OneToOneField(Scroll, on_delete=models.PROTECT, related_name="siyum", verbose_name=_("scroll"))
    held_on = models.DateField(_("held on"))
    place = models.CharField(_("place"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("siyum")
        verbose_name_plural = _("siyumim")
        ordering = ["-held_on", "-id"]

    def __str__(self):
        return f"{self.scroll} ({self.held_on})"


class SiyumNotice(models.Model):
    """One address told of a siyum: every address holding a letter in the scroll is listed when
    the siyum is recorded, and `sent_at` is set in the transaction that sends (under the row's
    lock), so a resumed run sends each address once."""

    siyum = models.ForeignKey(Siyum, on_delete=models.CASCADE, related_name="notices", verbose_name=_("siyum"))
    # Lower case: one email per person, however their orders spelt it.
    email = models.EmailField(_("email"))
    letters = models.PositiveIntegerField(_("letters held"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("siyum notice")
        verbose_name_plural = _("siyum notices")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["siyum", "email"], name="siyum_notice_once_per_email"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="siyum_notice_email_lower"),
        ]
        indexes = [
            # The next batch: the addresses of a siyum still waiting, in order.
            models.Index(fields=["siyum", "id"], condition=Q(sent_at__isnull=True), name="siyum_notice_waiting"),
        ]

    def __str__(self):
        return f"{self.siyum}: {self.email}"
