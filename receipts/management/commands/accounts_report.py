"""python manage.py accounts_report --organisation SLUG --month YYYY-MM --format csv|pdf --output PATH:
the treasurer's report of an organisation's month, written to a file."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from receipts.accounts import accounts_report, month_parse
from receipts.models import Organisation
from receipts.rendering import accounts_report_csv, accounts_report_pdf


class Command(BaseCommand):
    help = (
        "Write an organisation's accounts of a month (payments by provider and currency, refunds, "
        "disputes, Stripe's fees and payouts where reported) as CSV or PDF. The month runs in the "
        "organisation's time zone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organisation", required=True, metavar="SLUG")
        parser.add_argument("--month", required=True, metavar="YYYY-MM")
        parser.add_argument("--format", required=True, choices=["csv", "pdf"])
        parser.add_argument("--output", required=True, metavar="PATH", help='a file, or "-" for standard output')
        parser.add_argument(
            "--language", choices=[code for code, _name in settings.LANGUAGES], default=settings.LANGUAGE_CODE
        )

    def handle(self, *args, organisation, month, format, output, language, **options):
        found = Organisation.objects.filter(slug=organisation).first()
        if found is None:
            raise CommandError(f"No organisation {organisation!r} (see /staff/organisations/).")
        try:
            first_day = month_parse(month)
        except ValueError:
            raise CommandError(f"--month {month!r} is not a month YYYY-MM (e.g. 2026-03).") from None
        with translation.override(language):
            report = accounts_report(organisation=found, month=first_day)
            content = accounts_report_pdf(report) if format == "pdf" else accounts_report_csv(report).encode()
        if output == "-":
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
            return
        try:
            with open(output, "wb") as file:
                file.write(content)
        except OSError as error:
            raise CommandError(f"Could not write {output}: {error}") from error
        self.stderr.write(f"Accounts of {found.slug} for {report.month_label}: {format.upper()} written to {output}")
