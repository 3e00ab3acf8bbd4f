"""A team's paper cards: a real PDF drawn by WeasyPrint and read back (pypdf; the QR codes
printed by poppler's pdftoppm and read by zxing-cpp, as a phone would), four A6 cards to an A4
sheet, the campaign's fields in Hebrew beside English or Russian labels, the team's QR code to
its page; public, bounded, and a hostile team name prints as text."""

import io
import os
import shutil
import subprocess

import pytest
from django.conf import settings as django_settings
from pypdf import PdfReader

from fundraising.cards import SHEETS_MAX, team_cards_html, team_cards_pdf, team_page_url
from teams.models import Team

from .conftest import make_user

BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def make_team(campaign, *, slug="beis-chana", name="Beis Chana School", name_he="בית חנה", **fields) -> Team:
    owner = make_user(f"owner-{slug}")
    return Team.objects.create(
        campaign=campaign, owner=owner, slug=slug, name=name, name_he=name_he, goal_letters=100, **fields
    )


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).translate(BIDI_MARKS)


def page_sizes_mm(data: bytes) -> list[tuple[int, int]]:
    return [
        (round(float(page.mediabox.width) * 25.4 / 72), round(float(page.mediabox.height) * 25.4 / 72))
        for page in PdfReader(io.BytesIO(data)).pages
    ]


def qr_codes_printed(data: bytes, tmp_path) -> list[str]:
    """What a phone reads from the QR codes of the first sheet, printed at 150 dpi."""
    import zxingcpp
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing: `make test` installs poppler-utils")
        pytest.skip("pdftoppm is not installed (make system-packages installs poppler-utils)")
    (tmp_path / "cards.pdf").write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", "cards.pdf", "sheet"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    with Image.open(tmp_path / "sheet.png") as sheet:
        return [code.text for code in zxingcpp.read_barcodes(sheet) if code.format == zxingcpp.BarcodeFormat.QRCode]


def cards(client, team, **query):
    return client.get(f"/teams/{team.slug}/cards.pdf", query)


# --- The PDF ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_sheet_is_four_cards_with_the_campaigns_fields_in_hebrew_and_english(client, campaigns):
    team = make_team(campaigns["children"])  # its names need a date of birth; the mother's name
    response = cards(client, team)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = response.content
    assert data.startswith(b"%PDF-") and page_sizes_mm(data) == [(210, 297)]  # one A4 sheet
    text = pdf_text(data)
    # Four cards, each with the campaign, the team, and the fields in Hebrew, in logical order.
    assert text.count(campaigns["children"].name_he) == 4 and text.count("בית חנה") >= 4
    for hebrew in ("שם האם", "תאריך לידה", "עיר", "טלפון או דוא״ל של הקונה", "בן", "בת", "נא להחזיר את הכרטיס אל"):
        assert text.count(hebrew) >= 4, hebrew
    for english in ("Mother's Hebrew name", "Date of birth", "City", "Buyer's phone or email (optional)"):
        assert text.count(english) == 4, english
    assert text.count("Return this card to Beis Chana School.") == 4
    assert "שם האב" not in text and "Father's Hebrew name" not in text
    assert "Еврейское" not in text


@pytest.mark.django_db
def test_the_russian_labels_by_the_query_or_by_the_pages_language(client, campaigns):
    team = make_team(campaigns["children"], name_ru="Школа Бейс Хана")
    text = pdf_text(cards(client, team, labels="ru").content)
    for russian in ("Еврейское имя матери", "Дата рождения", "Город", "бен (сын)", "бат (дочь)"):
        assert text.count(russian) == 4, russian
    assert text.count("Школа Бейс Хана") == 8  # the team's Russian name: at the top, and to return to
    assert "שם האם" in text and "City" not in text and "Mother's Hebrew name" not in text
    # A Russian page prints Russian labels unless asked otherwise; a Hebrew page, English ones.
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "ru"
    assert "Город" in pdf_text(cards(client, team).content)
    assert "City" in pdf_text(cards(client, team, labels="en").content)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "he"
    assert "City" in pdf_text(cards(client, team).content)


@pytest.mark.django_db
def test_an_unknown_labels_language_falls_back_and_never_errors(client, campaigns):
    team = make_team(campaigns["children"])
    for value in ("xx", "he", "", "<b>", "ru" * 500):
        response = cards(client, team, labels=value)
        assert response.status_code == 200, value
        assert "City" in pdf_text(response.content) and "Город" not in pdf_text(response.content)
    assert cards(client, team, labels="RU").status_code == 200


@pytest.mark.django_db
def test_the_fathers_name_and_no_date_of_birth_where_the_campaign_asks_so(client, campaigns):
    campaign = campaigns["world-of-truth"]
    assert campaign.parent_is_father and not campaign.requires_date_of_birth
    text = pdf_text(cards(client, make_team(campaign)).content)
    assert text.count("שם האב") == 4 and text.count("Father's Hebrew name") == 4
    assert "שם האם" not in text and "תאריך לידה" not in text and "Date of birth" not in text
    # Written in memory of the departed: the card says so.
    assert text.count("לעילוי נשמתו") == 4 and text.count("in their memory") == 4


@pytest.mark.django_db
def test_each_cards_qr_code_opens_the_teams_page(client, campaigns, settings, tmp_path):
    team = make_team(campaigns["idf"])
    read = qr_codes_printed(cards(client, team).content, tmp_path)
    assert read == [f"{settings.SITE_URL}/teams/{team.slug}/"] * 4 and read[0] == team_page_url(team)
    page = client.get(read[0].removeprefix(settings.SITE_URL))
    assert page.status_code == 200 and "בית חנה" in page.content.decode()


@pytest.mark.django_db
def test_an_unknown_team_has_no_cards(client, campaigns):
    assert client.get("/teams/no-such-team/cards.pdf").status_code == 404


@pytest.mark.django_db
def test_more_sheets_up_to_the_limit_and_a_clear_refusal_beyond(client, campaigns):
    team = make_team(campaigns["idf"])
    data = cards(client, team, sheets="3").content
    assert page_sizes_mm(data) == [(210, 297)] * 3 and pdf_text(data).count("Return this card to") == 12
    for value in (str(SHEETS_MAX + 1), "0", "-1", "two", "1.5", "9" * 5000, "٣"):
        response = cards(client, team, sheets=value)
        assert response.status_code == 400, value
        assert f"1 to {SHEETS_MAX}" in response.content.decode()
    with pytest.raises(ValueError):
        team_cards_pdf(team=team, labels="en", sheets=SHEETS_MAX + 1)


@pytest.mark.django_db
def test_a_hostile_team_name_prints_as_text(client, campaigns):
    hostile = '<script>alert(1)</script><img src="file:///etc/passwd">'
    team = make_team(campaigns["idf"], name=hostile, name_he=f"\u202e{hostile}")
    html = team_cards_html(team=team, labels="en")
    assert "<script>" not in html and '<img src="file:' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in html  # a bidi override cannot reorder the card around it
    text = pdf_text(cards(client, team).content)
    assert text.count("<script>alert(1)</script>") >= 4


@pytest.mark.django_db
def test_a_renamed_team_is_drawn_anew_not_served_from_the_cache(client, campaigns):
    team = make_team(campaigns["idf"])
    assert "בית חנה" in pdf_text(cards(client, team).content)
    assert "בית חנה" in pdf_text(cards(client, team).content)  # the cached one
    team.name_he = "בית רבקה"
    team.save()
    text = pdf_text(cards(client, team).content)
    assert "בית רבקה" in text and "בית חנה" not in text


# --- In a browser ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_team_pages_print_link_answers_the_cards(page, live_server, campaigns):
    team = make_team(campaigns["idf"])
    page.goto(f"{live_server.url}/teams/{team.slug}/")
    link = page.get_by_role("link", name="Print paper cards")
    href = link.get_attribute("href")
    assert href.startswith(f"/teams/{team.slug}/cards.pdf")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF-") and "בית חנה" in pdf_text(body)
