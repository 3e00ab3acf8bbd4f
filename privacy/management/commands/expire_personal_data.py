"""python manage.py expire_personal_data

Erase now what the daily task would: the contact data of orders made more than
PERSONAL_DATA_RETENTION_YEARS ago, children's dates of birth ERASE_CHILD_BIRTH_DATES_AFTER_DAYS
after payment, finished imports' files after IMPORT_FILES_KEPT_DAYS, old siyum notices."""

from django.core.management.base import BaseCommand

from privacy.services import personal_data_expire


class Command(BaseCommand):
    help = "Erase the personal data kept longer than the settings allow."

    def handle(self, *args, **options):
        entries = personal_data_expire()
        for entry in entries:
            shown = ", ".join(f"{kind} {count}" for kind, count in entry.counts.items() if count)
            self.stdout.write(f"{entry.reason}: {shown} (privacy log #{entry.pk}).")
        if not entries:
            self.stdout.write("Nothing was due.")
