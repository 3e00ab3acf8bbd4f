"""python manage.py organisation_set SLUG --name NAME --jurisdiction us|il|other [--tax-id ID]
[--campaign CAMPAIGN_SLUG ...]: create or update an organisation and link campaigns to it."""

import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from receipts.models import Jurisdiction
from receipts.services import organisation_set


def _date(value):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value}") from error


class Command(BaseCommand):
    help = (
        "Create or update the organisation behind campaigns (safe to repeat): the options given are set, "
        "the others kept; each --campaign is linked to it (moved from another organisation if need be)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True, help="The legal name in English.")
        parser.add_argument("--jurisdiction", required=True, choices=Jurisdiction.values)
        parser.add_argument("--tax-id", help="US: the EIN. Israel: the amuta's registration number.")
        parser.add_argument("--campaign", action="append", default=[], metavar="CAMPAIGN_SLUG")
        parser.add_argument("--name-he", help="The legal name in Hebrew.")
        parser.add_argument("--name-ru", help="The legal name in Russian.")
        parser.add_argument("--address", help="The address (lines separated by \\n).")
        parser.add_argument("--address-he", help="The address in Hebrew.")
        parser.add_argument("--section-46-number", help="Israel: the section 46 approval's number.")
        parser.add_argument("--section-46-expires", type=_date, help="Israel: its expiry (YYYY-MM-DD).")
        parser.add_argument("--signatory", dest="signatory_name", help="Who signs the receipts.")
        parser.add_argument("--signatory-title")
        parser.add_argument("--time-zone", help="Receipts are numbered per calendar year in this zone.")

    def handle(self, *args, **options):
        fields = {
            key: options[key].replace("\\n", "\n") if key.startswith("address") and options[key] else options[key]
            for key in (
                "name_he",
                "name_ru",
                "address",
                "address_he",
                "section_46_number",
                "section_46_expires",
                "signatory_name",
                "signatory_title",
                "time_zone",
            )
        }
        try:
            organisation, created = organisation_set(
                slug=options["slug"],
                name=options["name"],
                jurisdiction=options["jurisdiction"],
                tax_id=options["tax_id"],
                campaign_slugs=options["campaign"],
                **fields,
            )
        except ValidationError as error:
            problems = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            raise CommandError(
                "; ".join(
                    f"{key}: {' '.join(messages)}" if key else " ".join(messages) for key, messages in problems.items()
                )
            ) from error
        campaigns = sorted(organisation.campaign_links.values_list("campaign__slug", flat=True))
        self.stdout.write(
            f"{'Created' if created else 'Updated'} {organisation.slug}: {organisation.name} "
            f"({organisation.get_jurisdiction_display()}); campaigns: {', '.join(campaigns) or 'none'}"
        )
