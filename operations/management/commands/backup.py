from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from operations.services import BackupError, backup_write


class Command(BaseCommand):
    help = _(
        "Write a backup into a new folder: the database as a PostgreSQL custom-format dump (pg_restore reads it), "
        "the certificates' files, and manifest.json with the counts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", required=True, type=Path, help=_("A folder that does not exist yet, or is empty.")
        )

    def handle(self, *args, output, **options):
        try:
            manifest = backup_write(output=output)
        except BackupError as error:
            raise CommandError(str(error)) from error
        files = manifest["files"]
        for name in files["missing"]:
            self.stderr.write(_("Missing from the storage, not backed up: %(name)s") % {"name": name})
        self.stdout.write(
            _("Backup written to %(path)s: %(letters)d letters, %(files)d files (%(bytes)d bytes), dump %(sha)s.")
            % {
                "path": output,
                "letters": manifest["counts"]["letters"],
                "files": files["copied"],
                "bytes": files["bytes"],
                "sha": manifest["dump"]["sha256"][:16],
            }
        )
