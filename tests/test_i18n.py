"""English, Hebrew and Russian: the catalogues are complete and up to date, every template string
is marked for translation, Hebrew pages are right to left, and a user's language is remembered
and used for their emails."""

import ast
import datetime
import gettext
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

from accounts.models import Profile
from allocation.models import Order
from allocation.services import order_confirmation_send, order_fulfil
from certificates.services import letters_lookup_send
from reports.tasks import send_weekly_reports
from scrolls.calendars import hebrew_date
from scrolls.torah_names import BOOK_NAMES, PARSHA_NAMES
from scrolls.torah_text import BOOKS, PARSHIYOS

from .conftest import make_user
from .factories import make_order
from .test_buy_pages import buy_form

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("he", "ru")

# --- The catalogues ---------------------------------------------------------------------------


def _unquote(line: str) -> str:
    return ast.literal_eval(line)  # a PO string is a C string: Python reads the escapes the same


def po_entries(path: Path) -> list[dict]:
    """The entries of a PO file (obsolete ones aside): context, msgid, msgid_plural, msgstr
    (a list, one per plural form) and flags. Enough of the format for our own catalogues."""
    entries, entry, field = [], None, None

    def close():
        if entry is not None and "msgid" in entry:
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            close()
            entry, field = None, None
            continue
        if line.startswith("#~"):
            continue
        if entry is None:
            entry = {"msgctxt": None, "msgid_plural": None, "msgstr": {}, "flags": set()}
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if isinstance(field, tuple):
                entry["msgstr"][field[1]] += _unquote(line)
            else:
                entry[field] += _unquote(line)
        else:
            keyword, value = line.split(" ", 1)
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match:
                field = ("msgstr", int(match.group(1)))
                entry["msgstr"][field[1]] = _unquote(value)
            elif keyword == "msgstr":
                field = ("msgstr", 0)
                entry["msgstr"][0] = _unquote(value)
            else:
                field = keyword
                entry[field] = _unquote(value)
    return [entry for entry in entries if entry["msgid"] != ""]  # the header aside


def messages_of(path: Path) -> set[tuple]:
    return {(entry["msgctxt"], entry["msgid"], entry["msgid_plural"]) for entry in po_entries(path)}


def catalogue(root: Path, language: str) -> Path:
    return root / language / "LC_MESSAGES" / "django.po"


def makemessages_ignore() -> list[str]:
    """The folders `make messages` leaves out (MESSAGES_IGNORE in the Makefile), so the test
    extracts exactly what the command does."""
    makefile = (ROOT / "Makefile").read_text()
    block = re.search(r"^MESSAGES_IGNORE :=(.*?)(?<!\\)\n", makefile, re.S | re.M).group(1)
    return re.findall(r"--ignore=(\S+)", block)


@pytest.fixture(scope="module")
def fresh_catalogues(tmp_path_factory):
    """makemessages run over a copy of the project: what the catalogues would hold if they were
    made now."""
    ignore = makemessages_ignore()
    work = tmp_path_factory.mktemp("messages")
    for child in ROOT.iterdir():
        if (
            child.is_dir()
            and child.name not in ignore
            and not child.name.startswith(".")
            and not any(Path(child.name).match(pattern) for pattern in ignore)
        ):
            shutil.copytree(child, work / child.name, ignore=shutil.ignore_patterns("__pycache__"))
    # An empty locale/: every entry found is one the code has now, none carried over.
    (work / "locale").mkdir()
    with pytest.MonkeyPatch.context() as patch, override_settings(LOCALE_PATHS=[work / "locale"]):
        patch.chdir(work)
        call_command(
            "makemessages", locale=list(LANGUAGES), no_obsolete=True, add_location="file", ignore_patterns=ignore,
            verbosity=0,
        )  # fmt: skip
    return work / "locale"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogues_hold_exactly_the_strings_of_the_code(fresh_catalogues, language):
    shipped = messages_of(catalogue(ROOT / "locale", language))
    fresh = messages_of(catalogue(fresh_catalogues, language))
    added, removed = sorted(fresh - shipped, key=str), sorted(shipped - fresh, key=str)
    assert not added and not removed, (
        f"locale/{language} is out of date: run `make messages` and translate the new entries.\n"
        f"New strings: {added}\nStrings no longer used: {removed}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated(language):
    path = catalogue(ROOT / "locale", language)
    header = path.read_text(encoding="utf-8").split("\n\n", 1)[0]
    nplurals = int(re.search(r"nplurals=(\d+)", header).group(1))
    problems = []
    for entry in po_entries(path):
        forms = entry["msgstr"]
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {entry['msgid']!r}")
        if entry["msgid_plural"] and sorted(forms) != list(range(nplurals)):
            problems.append(f"{len(forms)} plural forms, not {nplurals}: {entry['msgid']!r}")
        if not all(forms.values()):
            problems.append(f"untranslated: {entry['msgid']!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogues_are_those_of_the_sources(language, tmp_path):
    source = catalogue(ROOT / "locale", language)
    compiled = tmp_path / "django.mo"
    # --check: the placeholders of each translation match its msgid's (python-format), and more.
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(compiled), str(source)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    shipped = source.with_suffix(".mo")
    assert shipped.exists(), f"{shipped} is missing: run `make messages`"
    with open(shipped, "rb") as ours, open(compiled, "rb") as fresh:
        assert gettext.GNUTranslations(ours)._catalog == gettext.GNUTranslations(fresh)._catalog, (
            f"{shipped} is older than its .po: run `make messages`"
        )


def _installed_translations(language: str) -> dict:
    """What Django and the installed apps translate, for a language, as it would be shown without
    our catalogue: an app listed earlier in INSTALLED_APPS before a later one, Django's last."""
    import django
    from django.apps import apps

    folders = [Path(config.path) / "locale" for config in apps.get_app_configs()]
    folders.append(Path(django.__file__).parent / "conf" / "locale")
    translations = {}
    for folder in folders:
        path = folder / language / "LC_MESSAGES" / "django.mo"
        if path.exists():
            with open(path, "rb") as file:
                for key, value in gettext.GNUTranslations(file)._catalog.items():
                    if key != "" and value:
                        translations.setdefault(key, value)
    return translations


@pytest.mark.parametrize("language", LANGUAGES)
def test_our_catalogues_agree_with_djangos_where_they_share_a_string(language):
    # LOCALE_PATHS come first: where we translate a string Django or an app also has ("Change",
    # "Order"), ours is shown in their pages too (the admin). A context keeps ours apart.
    with open(catalogue(ROOT / "locale", language).with_suffix(".mo"), "rb") as file:
        ours = gettext.GNUTranslations(file)._catalog
    theirs = _installed_translations(language)
    shared = ours.keys() & theirs.keys()
    assert shared, "no string in common with Django's catalogues: are they found?"
    differ = [f"{key!r}: ours {ours[key]!r}, theirs {theirs[key]!r}" for key in shared if ours[key] != theirs[key]]
    assert not differ, "\n".join(differ)


def test_the_compiled_catalogues_are_not_ignored_by_git():
    for language in LANGUAGES:
        path = f"locale/{language}/LC_MESSAGES/django.mo"
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert ignored.returncode == 1, f"{path} is ignored by git, but the catalogues ship compiled"


def test_the_names_of_the_books_and_parshiyos_are_all_marked():
    with translation.override("en"):
        assert [str(name) for name in BOOK_NAMES] == [book.name for book in BOOKS]
        assert [str(name) for name in PARSHA_NAMES] == [parsha.name for parsha in PARSHIYOS]
    with translation.override("ru"):
        assert str(PARSHA_NAMES[0]) == "Берешит" and str(BOOK_NAMES[4]) == "Дварим"


# --- Every template string marked ------------------------------------------------------------

# Words that are the same in every language.
ALLOWED_WORDS = {"UnitySefer"}
# Latin or Cyrillic words (Hebrew in a template is Hebrew on purpose: the certificate's Hebrew side).
WORD = re.compile(r"[A-Za-z\u0400-\u04FF]{2,}")
# Attributes a person reads or hears.
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "aria-description", "aria-valuetext", "label"}
# What is translated or is not text: comments, {% blocktranslate %} blocks, every other tag and
# every variable ({% translate %} among the tags).
_NOT_TEXT = [
    re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S),
    re.compile(r"{#.*?#}", re.S),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}", re.S),
    re.compile(r"{%.*?%}", re.S),
    re.compile(r"{{.*?}}", re.S),
]


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.in_code = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.in_code += 1
        self.found += [value for name, value in attrs if name in VISIBLE_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.in_code:
            self.in_code -= 1

    def handle_data(self, data):
        if not self.in_code:
            self.found.append(data)


def untranslated_text(source: str) -> list[str]:
    """The pieces of text in a template that a reader would see untranslated."""
    for pattern in _NOT_TEXT:
        source = pattern.sub(" ", source)
    parser = _VisibleText()
    parser.feed(source)
    parser.close()
    return [
        " ".join(text.split()) for text in parser.found if any(word not in ALLOWED_WORDS for word in WORD.findall(text))
    ]


def test_the_scanner_finds_text_that_is_not_marked():
    assert untranslated_text("<p>Buy a letter</p>") == ["Buy a letter"]
    assert untranslated_text('<img src="x.png" alt="The scroll">') == ["The scroll"]
    assert untranslated_text("{% load i18n %}<p>{% translate 'Pay' %} now</p>") == ["now"]
    assert untranslated_text("Dear {{ name }},\n\nYour letters.") == ["Dear , Your letters."]
    assert untranslated_text("<td>Письмо</td>") == ["Письмо"]


def test_the_scanner_passes_what_is_marked_or_not_text():
    assert (
        untranslated_text(
            "{% load i18n %}<h1 title=\"{% translate 'Title' %}\">{% translate 'Buy a letter' %}</h1>"
            "{% blocktranslate with n=1 %}Scroll {{ n }}{% endblocktranslate %}"
            "<script>const label = 'not text';</script><style>p { color: red; }</style>"
            "{% comment %}A note{% endcomment %}{# another #}<!-- and another -->"
            '<span lang="he">ספר תורה</span> {{ campaign.name }} UnitySefer · 304,805'
        )
        == []
    )


def test_every_template_string_is_marked_for_translation():
    found = []
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix in (".html", ".txt"):
            found += [f"{path.relative_to(ROOT)}: {text}" for text in untranslated_text(path.read_text())]
    assert not found, "Text not marked for translation:\n" + "\n".join(found)


OUR_APPS = ("accounts", "allocation", "certificates", "payments", "registrations", "reports", "scrolls", "siyum")


def test_every_label_of_our_models_is_marked_for_translation():
    """The admin shows these labels: a field without a marked verbose_name shows its English
    attribute name to a Hebrew or Russian reader. Historical copies take theirs from the model."""
    from django.apps import apps
    from django.contrib import admin
    from django.utils.functional import Promise

    found = []
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS or model.__name__.startswith("Historical"):
            continue
        if not isinstance(model._meta.verbose_name, Promise):
            found.append(f"{model.__name__} (the model)")
        found += [
            f"{model.__name__}.{field.name}"
            for field in model._meta.get_fields()
            if field.concrete and not field.auto_created and not isinstance(field.verbose_name, Promise)
        ]
    # Columns of the admin's lists that are properties or methods rather than fields.
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        for column in model_admin.list_display:
            if not isinstance(column, str) or column == "__str__":
                continue
            try:
                model._meta.get_field(column)
                continue
            except Exception:
                pass
            described = getattr(model_admin, column, None) or getattr(model, column, None)
            if isinstance(described, property):
                described = described.fget
            if not isinstance(getattr(described, "short_description", None), Promise):
                found.append(f"{model.__name__} admin column {column}")
    assert not found, "Labels not marked for translation:\n" + "\n".join(found)


# --- Right to left where it belongs ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, direction, stylesheet",
    [("he", "rtl", "bootstrap.rtl.min.css"), ("en", "ltr", "bootstrap.min.css"), ("ru", "ltr", "bootstrap.min.css")],
)
def test_each_language_has_its_direction_and_stylesheet(client, campaigns, language, direction, stylesheet):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    for path in ("/", "/buy/idf/", "/letters/lookup/", "/accounts/login/"):
        page = client.get(path).content.decode()
        assert f'<html lang="{language}" dir="{direction}">' in page, path
        assert f"vendor/bootstrap/{stylesheet}" in page, path
        if direction == "ltr":
            assert "bootstrap.rtl.min.css" not in page


@pytest.mark.django_db
def test_hebrew_pages_are_in_hebrew_with_latin_kept_left_to_right(client, campaigns):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "he"
    home = client.get("/").content.decode()
    assert "כתבו את האות שלכם בספר תורה כללי" in home
    assert '<bdi dir="ltr">18.00 ILS</bdi>' in home
    assert "304,805" in home  # digits grouped, as Israelis write them
    assert campaigns["idf"].description_he in home  # the campaign's own words in Hebrew
    idf = campaigns["idf"]
    # The campaign's Hebrew name is its title in Hebrew, its English name beneath, left to right.
    for page in (home, client.get("/buy/idf/").content.decode(), client.get("/campaigns/idf/").content.decode()):
        assert page.index(idf.name_he) < page.index(idf.name)
        assert f'lang="en" dir="ltr">{idf.name}<' in page
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    for path in ("/", "/buy/idf/", "/campaigns/idf/"):
        page = client.get(path).content.decode()
        assert page.index(idf.name) < page.index(idf.name_he), path
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "ru"
    buy = client.get("/buy/idf/").content.decode()
    assert 'Предлагаемая цена: <bdi dir="ltr">18,00 ILS</bdi>' in buy
    assert "Еврейское имя матери" in buy


def test_the_hebrew_date_in_each_language():
    day = datetime.date(2024, 3, 1)
    assert hebrew_date(day, language="he") == "כ״א אדר א׳ תשפ״ד"
    assert hebrew_date(day, language="en") == "21 Adar I 5784"
    assert hebrew_date(day, language="ru") == "21 Адар I 5784"


@pytest.mark.django_db
def test_the_done_page_dates_the_letters_in_both_calendars(client, campaigns):
    order = make_order(campaigns["idf"], 1)
    order_fulfil(order_id=order.pk)
    order.refresh_from_db()
    day = order.allocated_at.astimezone(ZoneInfo(campaigns["idf"].time_zone)).date()
    for language in ("en", "he", "ru"):
        expected = hebrew_date(day, language=language)
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
        page = client.get(f"/orders/{order.token}/").content.decode()
        written = re.search(r'<p id="written-on">(.*?)</p>', page, re.S).group(1)
        assert expected in written, (language, written)


# --- A user's language, remembered and used for their email ----------------------------------


@pytest.mark.django_db
def test_a_signed_in_users_language_is_remembered_in_another_browser(campaigns):
    user = make_user("levi")
    first = Client()
    first.force_login(user)
    response = first.post("/i18n/setlang/", {"language": "ru", "next": "/"})
    assert response.status_code == 302
    assert Profile.objects.get(user=user).language == "ru"

    # Another browser, no language cookie: signing in brings Russian back and sets the cookie.
    second = Client()
    signed_in = second.post("/accounts/login/", {"username": "levi@example.org", "password": "a-long-test-password"})
    assert signed_in.status_code == 302
    assert signed_in.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert '<html lang="ru" dir="ltr">' in second.get("/").content.decode()

    # A session without the cookie (it was cleared): the profile's language, and the cookie again.
    third = Client()
    third.force_login(user)
    response = third.get("/")
    assert '<html lang="ru" dir="ltr">' in response.content.decode()
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "ru"

    # Switching back while signed in is remembered too; a visitor's switch changes no profile.
    third.post("/i18n/setlang/", {"language": "he", "next": "/"})
    assert Profile.objects.get(user=user).language == "he"
    Client().post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert Profile.objects.get(user=user).language == "he"


@pytest.mark.django_db
def test_a_language_chosen_before_signing_in_is_remembered_the_browsers_alone_is_not(campaigns):
    make_user("sara")
    client = Client()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "he"
    client.post("/accounts/login/", {"username": "sara", "password": "a-long-test-password"})
    assert Profile.objects.get(user__username="sara").language == "he"

    make_user("rachel")
    Client().post(
        "/accounts/login/", {"username": "rachel", "password": "a-long-test-password"}, HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert Profile.objects.get(user__username="rachel").language == ""


@pytest.mark.django_db
def test_the_buyer_is_emailed_in_the_language_they_bought_in(client, campaigns, mailoutbox, settings):
    settings.DEMO_PAYMENTS, settings.STRIPE_SECRET_KEY = True, ""
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "he"
    client.post("/buy/idf/", buy_form())
    order = Order.objects.get()
    assert order.language == "he"
    order_fulfil(order_id=order.pk)
    assert order_confirmation_send(order_id=order.pk) is True
    [message] = mailoutbox
    assert message.subject == f"האותיות שלך: {campaigns['idf'].name}"
    assert "האותיות שלך, תמיד בכתובת הזו:" in message.body
    assert '<html lang="he" dir="rtl">' in message.alternatives[0][0]


@pytest.mark.django_db
def test_an_order_registered_by_a_shliach_is_emailed_in_the_shliachs_language(campaigns, mailoutbox):
    shliach = make_user("moshe")
    Profile.objects.filter(user=shliach).update(language="ru")
    order = make_order(campaigns["idf"], 1, created_by=shliach)
    assert order.language == ""
    order_fulfil(order_id=order.pk)
    order_confirmation_send(order_id=order.pk)
    [message] = mailoutbox
    assert message.subject.startswith("Ваши буквы")


@pytest.mark.django_db
def test_each_hanhala_member_gets_the_weekly_report_in_their_language(campaigns, mailoutbox):
    for username, language in (("chaim", "he"), ("dovid", "ru"), ("eli", "")):
        user = make_user(username, permissions=["accounts.view_reports"])
        Profile.objects.filter(user=user).update(language=language)
        user.profile.campaigns.add(campaigns["idf"])
    send_weekly_reports.delay()
    by_recipient = {tuple(message.to): message for message in mailoutbox}
    assert set(by_recipient) == {("chaim@example.org",), ("dovid@example.org",), ("eli@example.org",)}
    assert "הדוח השבועי" in by_recipient[("chaim@example.org",)].subject
    assert "еженедельный отчёт" in by_recipient[("dovid@example.org",)].subject
    assert "the weekly report" in by_recipient[("eli@example.org",)].subject


@pytest.mark.django_db
def test_the_letters_lookup_answers_in_the_language_it_was_asked_in(campaigns, mailoutbox):
    order = make_order(campaigns["idf"], 1)
    order_fulfil(order_id=order.pk)
    assert letters_lookup_send(email=order.buyer_email, language="ru") is True
    [message] = mailoutbox
    assert message.subject == "Ваши буквы в свитке Торы"
