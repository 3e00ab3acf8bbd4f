"""python manage.py erase_personal_data --email ADDRESS [--reason TEXT] [--operator NAME] [--dry-run]

Erase an address's contact data everywhere (docs/architecture.md, "Personal data"): the buyer's
name, email and phone of every order bought with it, the English and family names, dates of
birth and cities of their names, in the tables and their history; an account with the address
is closed and emptied; its siyum notices and import files deleted. The Hebrew names stay in their
letters, certificates keep their codes (drawn again without what was erased), amounts stay.
Logged with the reason and the operator (--operator, else the login name running it), without
the address. --dry-run says what is held and changes nothing."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from privacy.selectors import personal_data_erased_before, personal_data_held
from privacy.services import personal_data_erase

from .export_personal_data import _operator

DEFAULT_REASON = "Asked by the person"


class Command(BaseCommand):
    help = "Erase an email address's contact data; the Hebrew names stay in their letters."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The address, in any case.")
        parser.add_argument("--reason", default=DEFAULT_REASON, help=f'Why, for the log (default: "{DEFAULT_REASON}").')
        parser.add_argument("--operator", default="", help="Who erases, for the log (default: your login name).")
        parser.add_argument("--dry-run", action="store_true", help="Say what is held; change nothing.")

    def handle(self, *args, email, reason, operator, dry_run, **options):
        try:
            earlier = personal_data_erased_before(email=email)
            if dry_run:
                held = personal_data_held(email=email)
            else:
                log = personal_data_erase(email=email, reason=reason, operator=_operator(operator))
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        for entry in earlier:
            self.stdout.write(f"Erased before: {entry.created_at:%Y-%m-%d %H:%M} UTC (log #{entry.pk}).")
        if dry_run:
            shown = ", ".join(f"{kind} {count}" for kind, count in held.items() if count)
            self.stdout.write(f"Held (nothing changed): {shown or 'nothing'}.")
            return
        shown = ", ".join(f"{kind} {count}" for kind, count in log.counts.items() if count)
        self.stdout.write(f"Erased: {shown or 'nothing was held'} (privacy log #{log.pk}).")
