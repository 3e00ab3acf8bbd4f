import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from registrations.models import ImportPayment, ImportStatus
from registrations.services import name_import_create, name_import_run
from scrolls.models import Campaign


class Command(BaseCommand):
    help = (
        "Import names from a CSV or XLSX file into a campaign, all or nothing. Paid offline with "
        "--paid-offline (the user must be allowed to record offline payments), else the order waits "
        "for staff approval. Exits non-zero, naming the rows, when any row has a problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--campaign", required=True, help="the campaign's slug")
        parser.add_argument("--user", required=True, help="the shliach's username, credited with the names")
        parser.add_argument("--paid-offline", metavar="REF", default="", help="receipt or transfer reference")

    def handle(self, *args, file, campaign, user, paid_offline, **options):
        try:
            campaign_obj = Campaign.objects.get(slug=campaign)
        except Campaign.DoesNotExist:
            raise CommandError(f"No campaign {campaign!r}.") from None
        try:
            user_obj = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {user!r}.") from None
        if not file.is_file():
            raise CommandError(f"No file {file}.")
        started = time.perf_counter()
        try:
            with file.open("rb") as handle:
                name_import = name_import_create(
                    user=user_obj,
                    campaign=campaign_obj,
                    source_name=file.name,
                    content=File(handle, name=file.name),
                    payment_method=ImportPayment.OFFLINE if paid_offline else ImportPayment.APPROVAL,
                    payment_reference=paid_offline,
                )
            name_import = name_import_run(import_id=name_import.pk)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        seconds = time.perf_counter() - started
        if name_import.status != ImportStatus.IMPORTED:
            for problem in name_import.problems:
                column = f" {problem['column']}" if problem["column"] else ""
                self.stderr.write(f"row {problem['row']}{column}: {problem['message']}")
            rows = sorted({problem["row"] for problem in name_import.problems})
            raise CommandError(
                f"Refused: {name_import.problem_count} problems, nothing imported. Rows: {', '.join(map(str, rows))}"
            )
        order = name_import.order
        order.refresh_from_db()
        self.stdout.write(
            f"Imported {name_import.rows_done} names into order {order.pk} ({order.amount} {order.currency}, "
            f"{order.get_status_display().lower()}) in {seconds:.1f} s."
        )
