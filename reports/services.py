import datetime
import logging

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from allocation.selectors import addresses_language
from scrolls.models import Campaign

from .models import WeeklyReportSent
from .rendering import weekly_report_context, weekly_report_filename, weekly_report_pdf
from .selectors import weekly_report, weekly_report_recipients

logger = logging.getLogger(__name__)


def weekly_report_send(*, campaign_id: int, week_ending: datetime.date) -> bool:
    """Email a campaign's weekly report (the PDF attached) to its hanhala, once per week.
    Returns whether it was sent now.

    The WeeklyReportSent row is written in the transaction that sends: a second worker waits
    on its unique index and then finds it; a send that fails leaves no row and is tried again.
    A crash between sending and committing may send it twice; it is never lost."""
    campaign = Campaign.objects.get(pk=campaign_id)
    recipients = weekly_report_recipients(campaign=campaign)
    if not recipients:
        logger.info("Campaign %s has no hanhala with an email address: no weekly report sent", campaign.slug)
        return False
    with transaction.atomic():
        _row, created = WeeklyReportSent.objects.get_or_create(
            campaign=campaign, week_ending=week_ending, defaults={"recipients": "\n".join(recipients)}
        )
        if not created:
            return False
        # One message per language the hanhala members chose, the report drawn in each.
        by_language = {}
        for email, language in addresses_language(emails=recipients).items():
            by_language.setdefault(language, []).append(email)
        messages = []
        for language, addresses in sorted(by_language.items()):
            with translation.override(language):
                report = weekly_report(campaign=campaign, week_ending=week_ending)
                context = weekly_report_context(report)
                subject = _("%(campaign)s: the weekly report, week ending %(date)s") % {
                    "campaign": campaign.name,
                    "date": week_ending.isoformat(),
                }
                message = EmailMultiAlternatives(
                    subject=subject, body=render_to_string("emails/weekly_report.txt", context), to=sorted(addresses)
                )
                message.attach_alternative(render_to_string("emails/weekly_report.html", context), "text/html")
                message.attach(weekly_report_filename(report, "pdf"), weekly_report_pdf(report), "application/pdf")
            messages.append(message)
        for message in messages:
            message.send()
    logger.info("Weekly report of %s, week ending %s, sent to %d", campaign.slug, week_ending, len(recipients))
    return True
