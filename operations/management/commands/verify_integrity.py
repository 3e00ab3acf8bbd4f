from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from operations.integrity import CHECKS
from operations.services import integrity_verify


class Command(BaseCommand):
    help = _(
        "Check in SQL every invariant the project promises; print each breach (campaign, scroll and position, "
        "or order) and exit non-zero if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all-files",
            action="store_true",
            help=_("Look for every certificate's file, not a sample of INTEGRITY_CERTIFICATE_FILES_CHECKED."),
        )

    def handle(self, *args, all_files=False, **options):
        kwargs = {"certificate_files_checked": None} if all_files else {}
        breaches = integrity_verify(**kwargs)
        for breach in breaches:
            self.stdout.write(str(breach))
        if breaches:
            raise CommandError(_("%(count)d breaches found.") % {"count": len(breaches)})
        self.stdout.write(_("No breach: %(count)d checks passed.") % {"count": len(CHECKS)})
