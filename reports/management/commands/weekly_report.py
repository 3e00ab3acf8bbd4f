import datetime
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from core.weeks import campaign_zone, is_week_ending, week_last_ended
from reports.rendering import weekly_report_csv, weekly_report_pdf
from reports.selectors import weekly_report
from scrolls.models import Campaign


class Command(BaseCommand):
    help = (
        "Write a campaign's weekly report as PDF or CSV. The week ending YYYY-MM-DD (a Friday) runs "
        "from the Friday before at 00:00 to that Friday at 00:00, in the campaign's time zone; by "
        "default the last week that has ended."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, metavar="SLUG")
        parser.add_argument("--week-ending", metavar="YYYY-MM-DD", help="a Friday (default: the last week ended)")
        parser.add_argument("--format", choices=["pdf", "csv"], default="pdf")
        parser.add_argument("--output", required=True, metavar="PATH", help='a file, or "-" for standard output')
        parser.add_argument(
            "--language", choices=[code for code, _name in settings.LANGUAGES], default=settings.LANGUAGE_CODE
        )

    def handle(self, *args, campaign, week_ending, format, output, language, **options):
        try:
            campaign = Campaign.objects.get(slug=campaign)
        except Campaign.DoesNotExist:
            raise CommandError(f"No campaign {campaign!r}.") from None
        if week_ending:
            try:
                ending = datetime.date.fromisoformat(week_ending)
            except ValueError:
                raise CommandError(f"--week-ending {week_ending!r} is not a date YYYY-MM-DD.") from None
            if not is_week_ending(ending):
                friday = ending + datetime.timedelta(days=(4 - ending.weekday()) % 7)
                raise CommandError(
                    f"--week-ending {ending} is a {ending:%A}; weeks end on Fridays (the week holding it "
                    f"ends on {friday})."
                )
        else:
            ending = week_last_ended(zone=campaign_zone(campaign)).ending
        with translation.override(language):
            report = weekly_report(campaign=campaign, week_ending=ending)
            content = weekly_report_pdf(report) if format == "pdf" else weekly_report_csv(report).encode()
        if output == "-":
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
        else:
            with open(output, "wb") as file:
                file.write(content)
            self.stderr.write(f"Week ending {ending} of {campaign.slug}: {format.upper()} written to {output}")
