"""python manage.py export_personal_data --email ADDRESS --output PATH

Everything held about an address, as JSON (UTF-8, readable Hebrew), to PATH ("-": standard
output). The file is made readable by its owner only. Logged in the privacy log (the address
hashed), with the operator: --operator, else the login name running the command."""

import getpass
import json
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from privacy.services import personal_data_export


def _operator(given: str) -> str:
    if given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without one)
        return "command line"


class Command(BaseCommand):
    help = "Write everything held about an email address as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The address, in any case.")
        parser.add_argument("--output", required=True, help='The JSON file to write ("-": standard output).')
        parser.add_argument("--operator", default="", help="Who exports, for the log (default: your login name).")

    def handle(self, *args, email, output, operator, **options):
        try:
            data = personal_data_export(email=email, operator=_operator(operator))
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2) + "\n"
        if output == "-":
            sys.stdout.write(text)
        else:
            try:
                descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as error:
                raise CommandError(f"Cannot write {output}: {error.strerror}") from error
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
        held = ", ".join(f"{key} {len(value)}" for key, value in data.items() if isinstance(value, list) and value)
        self.stderr.write(f"Written to {output}: {held or 'nothing is held about this address'}.")
