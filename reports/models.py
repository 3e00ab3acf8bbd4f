from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrolls.models import Campaign


class WeeklyReportSent(models.Model):
    """The weekly report of a campaign went to its hanhala: one row per campaign and week, so
    the Friday task sends each report once however often it runs. Written in the transaction
    that sends it: a failed send leaves no row and is tried again."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="weekly_reports_sent", verbose_name=_("campaign")
    )
    week_ending = models.DateField(_("week ending (Friday)"))
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    recipients = models.TextField(_("recipients"), help_text=_("One address a line."))

    class Meta:
        verbose_name = _("weekly report sent")
        verbose_name_plural = _("weekly reports sent")
        ordering = ["-week_ending", "campaign_id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "week_ending"], name="weekly_report_sent_once"),
        ]

    def __str__(self):
        return f"{self.campaign.slug} {self.week_ending}"
