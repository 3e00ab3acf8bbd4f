from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from operations.services import BackupError, backup_restore_check


class Command(BaseCommand):
    help = _(
        "Prove a backup: restore it into a throwaway database (dropped afterwards), run the integrity check there "
        "and compare its counts with the manifest; exit non-zero on any difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help=_("The folder `backup --output` wrote."))

    def handle(self, *args, directory, **options):
        try:
            result = backup_restore_check(directory=directory)
        except BackupError as error:
            raise CommandError(str(error)) from error
        for problem in result.problems:
            self.stdout.write(problem)
        for breach in result.breaches:
            self.stdout.write(str(breach))
        if not result.passed:
            raise CommandError(
                _("The backup in %(path)s failed its check: %(problems)d differences, %(breaches)d breaches.")
                % {"path": directory, "problems": len(result.problems), "breaches": len(result.breaches)}
            )
        counts = result.manifest["counts"]
        self.stdout.write(
            _(
                "The backup in %(path)s restores: %(letters)d letters, %(names)d names, %(certificates)d certificates, "
                "%(files)d files, as its manifest says; no breach."
            )
            % {
                "path": directory,
                "letters": counts["letters"],
                "names": counts["names"],
                "certificates": counts["certificates"],
                "files": result.manifest["files"]["copied"],
            }
        )
