"""Sharing (issue 19): the Open Graph and Twitter card tags of the public pages, the share
images they point to (PNG, 1200x630, Hebrew drawn right to left, cached), and the thank-you
page's share links and "add a name for someone who cannot"."""

import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image, ImageDraw, ImageFont

from allocation.models import Letter, Order, OrderStatus
from allocation.services import Buyer, order_fulfil
from certificates.models import Certificate
from certificates.services import order_certificates_issue
from scrolls.models import Campaign
from scrolls.selectors import PROGRESS_CACHE_KEY, campaigns_progress, progress_local_forget
from sharing import drawing
from sharing.selectors import campaign_card, position_card, scroll_card
from sharing.services import share_image_cache_key

from .factories import make_order, name_data, shrink_open_scroll
from .test_buy_pages import buy_form

pytestmark = pytest.mark.django_db

SHARE_TEXT = (
    "I took part in writing a Sefer Torah, %(campaign)s: each of its letters is written in the name of one Jew. "
    "Add your name too:"
)


class _Meta(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        key = attrs.get("property") or attrs.get("name")
        if tag == "meta" and key and "content" in attrs:
            self.tags.setdefault(key, attrs["content"])


def meta_of(response) -> dict:
    parser = _Meta()
    parser.feed(response.content.decode())
    return parser.tags


def paid_order(campaign, **kwargs):
    order = make_order(campaign, 1, **kwargs)
    order_fulfil(order_id=order.pk)
    order_certificates_issue(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


def image_of(client, url):
    """The PNG at an absolute og:image URL, fetched from this site."""
    assert url.startswith(settings.SITE_URL + "/share/"), url
    response = client.get(url.removeprefix(settings.SITE_URL))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "immutable" in response["Cache-Control"]
    return response, Image.open(io.BytesIO(response.content))


@pytest.mark.parametrize(("language", "locale"), [("he", "he_IL"), ("en", "en_US"), ("ru", "ru_RU")])
def test_every_public_page_carries_its_card_tags_and_image(client, campaigns, language, locale):
    order = paid_order(campaigns["idf"])
    certificate = Certificate.objects.get(name__order=order)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    position = Letter.objects.get(name__order=order).position
    pages = [
        "/",
        "/campaigns/idf/",
        "/campaigns/idf/scrolls/1/",
        f"/verify/{certificate.code}/",
        f"/campaigns/idf/scrolls/1/letters/{position}/",  # a letter's own page
    ]
    images = set()
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        tags = meta_of(response)
        assert tags["og:url"] == settings.SITE_URL + path
        assert tags["og:locale"] == locale
        assert (tags["og:image:width"], tags["og:image:height"]) == ("1200", "630")
        assert tags["twitter:card"] == "summary_large_image"
        assert tags["og:title"] and tags["og:description"] and tags["twitter:image"] == tags["og:image"]
        _, image = image_of(client, tags["og:image"])
        assert (image.format, image.size) == ("PNG", (1200, 630))
        images.add(tags["og:image"])
    assert len(images) == len(pages)  # each page its own card
    campaign_tags = meta_of(client.get("/campaigns/idf/"))
    expected = campaigns["idf"].name_he if language == "he" else campaigns["idf"].name
    assert campaign_tags["og:title"] == expected


def test_the_letters_page_and_image_show_the_letter_never_the_name_or_buyer(client, campaigns):
    order = paid_order(
        campaigns["idf"], buyer=Buyer(name="Dvora Buyer", email="dvora@example.org", phone="+972500000000")
    )
    certificate = Certificate.objects.get(name__order=order)
    name = order.names.get()
    response = client.get(f"/verify/{certificate.code}/")
    head = response.content.decode().split("</head>")[0]
    assert 'property="og:image"' in head
    for private in (name.hebrew_name, name.display_name, "Dvora", "dvora@example.org", "+972500000000", order.token):
        assert private not in head
    url = meta_of(response)["og:image"]
    assert f"/share/letters/{certificate.code}/" in url


def test_a_letters_own_page_shows_the_letter_in_its_tags_never_its_listed_name(client, campaigns):
    order = paid_order(campaigns["idf"], names=[name_data(0, listed=True)])
    name = order.names.get()
    position = Letter.objects.get(name=name).position
    response = client.get(f"/campaigns/idf/scrolls/1/letters/{position}/")
    assert response.status_code == 200
    head, body = response.content.decode().split("</head>")
    assert name.hebrew_name in body  # listed: the page shows it
    assert name.hebrew_name not in head and order.buyer_email not in head
    card = position_card(slug="idf", number=1, position=position)
    assert meta_of(response)["og:image"] == card.url
    assert name.hebrew_name not in str(card.content)
    _, image = image_of(client, card.url)
    assert image.size == (1200, 630)
    # A position no name holds has no page and no card.
    assert client.get(f"/share/campaigns/idf/scrolls/1/letters/{position + 1}/x.png").status_code == 404


def test_an_image_is_drawn_once_and_served_from_the_cache(client, campaigns):
    card = campaign_card(slug="idf")
    key = share_image_cache_key(card=card)
    cache.delete(key)  # Redis is not rolled back with the database
    first = client.get(card.path)
    assert first.status_code == 200 and cache.get(key) == first.content
    # What the cache holds is what is served: a second request draws nothing.
    marker = Image.new("RGB", (1200, 630), "red")
    buffer = io.BytesIO()
    marker.save(buffer, format="PNG")
    cache.set(key, buffer.getvalue())
    second = client.get(card.path)
    assert second.content == buffer.getvalue() != first.content


def test_an_old_or_made_up_version_is_sent_on_to_the_current_image(client, campaigns):
    card = campaign_card(slug="idf")
    cache.delete(share_image_cache_key(card=card))
    response = client.get("/share/campaigns/idf/not-a-version.png")
    assert response.status_code == 302 and response["Location"] == card.path
    assert cache.get(share_image_cache_key(card=card)) is None  # nothing drawn for the old one
    assert client.get("/share/campaigns/no-such-campaign/x.png").status_code == 404
    assert client.get("/share/campaigns/idf/scrolls/99/x.png").status_code == 404
    assert client.get("/share/letters/NOPE-NOPE/x.png").status_code == 404
    assert client.post(card.path).status_code == 405


def test_a_campaign_newer_than_the_cached_progress_still_has_its_card(client, campaigns):
    stale = campaigns_progress()
    Campaign.objects.create(slug="new-campaign", name="A new campaign", name_he="ספר תורה חדש", custom="ari", price=18)
    # The cached progress as a refresh that could not reach Redis left it: without the campaign.
    cache.set(PROGRESS_CACHE_KEY, stale, timeout=None)
    progress_local_forget()
    assert "new-campaign" not in campaigns_progress().by_slug
    response = client.get("/campaigns/new-campaign/")
    assert response.status_code == 200
    card = campaign_card(slug="new-campaign")
    assert meta_of(response)["og:image"] == card.url and card.content["name_he"] == "ספר תורה חדש"
    _, image = image_of(client, card.url)
    assert image.size == (1200, 630)


def test_a_scrolls_card_changes_with_its_whole_percentage_not_at_every_letter(client, campaigns):
    shrink_open_scroll(campaigns["sefardi"], 200)
    empty = scroll_card(slug="sefardi", number=1)
    order_fulfil(order_id=make_order(campaigns["sefardi"], 1).pk)
    one_letter = scroll_card(slug="sefardi", number=1)  # 0.5%: still 0%
    assert one_letter.version == empty.version and one_letter.content["percent"] == 0
    order_fulfil(order_id=make_order(campaigns["sefardi"], 1).pk)
    two_letters = scroll_card(slug="sefardi", number=1)  # 1%
    assert two_letters.version != empty.version and two_letters.content["percent"] == 1


# --- Hebrew drawn right to left, read back by OCR ------------------------------------------


def _ocr_hebrew(png: bytes) -> str:
    result = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "heb"], input=png, capture_output=True, check=True, timeout=60
    )
    hebrew_only = re.sub(r"[^\u05d0-\u05ea ]+", " ", result.stdout.decode())
    return " ".join(hebrew_only.split())


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr (Makefile's DEBIAN_PACKAGES) is missing")
def test_the_campaigns_hebrew_name_is_drawn_right_to_left(client, campaigns):
    name_he = campaigns["tomchei-temimim"].name_he  # ספר התורה של תומכי תמימים
    card = campaign_card(slug="tomchei-temimim")
    response = client.get(card.path)
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (1200, 630))
    read = _ocr_hebrew(response.content)
    # OCR gives Hebrew in logical order: drawn right to left, the name reads as it is written.
    assert name_he in read, read
    assert name_he[::-1] not in read

    # The control: the same name laid out without bidi (Pillow's basic layout, letters left to
    # right) reads back reversed, so the assertion above can fail.
    control = Image.new("RGB", (1200, 630), "white")
    font = ImageFont.truetype(drawing.font_file(*drawing.HEBREW_FONT), 96, layout_engine=ImageFont.Layout.BASIC)
    ImageDraw.Draw(control).text((600, 300), name_he, font=font, fill="black", anchor="mm")
    buffer = io.BytesIO()
    control.save(buffer, format="PNG")
    control_read = _ocr_hebrew(buffer.getvalue())
    assert name_he not in control_read, control_read


# --- The thank-you page --------------------------------------------------------------------


def _share_links(page: str) -> dict:
    found = {}
    for key in ("whatsapp", "telegram", "email"):
        match = re.search(rf'href="([^"]+)"[^>]*id="share-{key}"', page)
        assert match, key
        found[key] = match.group(1).replace("&amp;", "&")
    return found


def test_the_thank_you_page_shares_the_campaign_in_the_buyers_language(client, campaigns):
    campaign = campaigns["idf"]
    order = paid_order(campaign, language="he")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the page itself in English
    page = client.get(f"/orders/{order.token}/").content.decode()
    links = _share_links(page)
    campaign_url = f"{settings.SITE_URL}/campaigns/idf/"
    with translation.override("he"):
        expected_text = gettext(SHARE_TEXT) % {"campaign": campaign.name_he}

    whatsapp = urlsplit(links["whatsapp"])
    assert (whatsapp.scheme, whatsapp.netloc, whatsapp.path) == ("https", "wa.me", "/")
    assert parse_qs(whatsapp.query)["text"] == [f"{expected_text} {campaign_url}"]
    assert campaign.name_he in parse_qs(whatsapp.query)["text"][0]

    telegram = urlsplit(links["telegram"])
    assert (telegram.netloc, telegram.path) == ("t.me", "/share/url")
    assert parse_qs(telegram.query) == {"url": [campaign_url], "text": [expected_text]}

    email = links["email"]
    assert email.startswith("mailto:?")
    fields = parse_qs(email.removeprefix("mailto:?"))
    assert fields["body"] == [f"{expected_text}\n{campaign_url}"] and fields["subject"][0]
    assert 'id="share-url"' in page and f'value="{campaign_url}"' in page
    assert 'data-copy="share-url"' in page and "js/share.js" in page
    # The order's own page is the buyer's key: never shared.
    for link in links.values():
        assert order.token not in unquote(link)


def test_an_english_order_shares_in_english(client, campaigns):
    order = paid_order(campaigns["idf"], language="en")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "he"
    links = _share_links(client.get(f"/orders/{order.token}/").content.decode())
    text = parse_qs(urlsplit(links["telegram"]).query)["text"][0]
    with translation.override("en"):
        assert text == gettext(SHARE_TEXT) % {"campaign": campaigns["idf"].name}


def test_an_unpaid_order_offers_no_share(client, campaigns):
    order = make_order(campaigns["idf"], 1)
    page = client.get(f"/orders/{order.token}/").content.decode()
    assert 'id="share' not in page and 'id="order-another"' not in page


def test_add_a_name_for_someone_who_cannot_starts_an_order_for_the_same_buyer(client, campaigns, settings):
    settings.DEMO_PAYMENTS = True
    first = paid_order(
        campaigns["idf"], buyer=Buyer(name="Dvora Levi", email="dvora@example.org", phone="+972500000001")
    )
    page = client.get(f"/orders/{first.token}/").content.decode()
    assert f'action="/orders/{first.token}/another/"' in page and 'id="order-another"' in page

    assert client.get(f"/orders/{first.token}/another/").status_code == 405
    response = client.post(f"/orders/{first.token}/another/")
    assert response.status_code == 302 and response["Location"] == "/buy/idf/"  # nothing of the buyer in it
    buy = client.get("/buy/idf/").content.decode()
    for value in ('value="Dvora Levi"', 'value="dvora@example.org"', 'value="+972500000001"'):
        assert value in buy, value
    # Once: the next visit to the buy page is blank again.
    assert "dvora@example.org" not in client.get("/buy/idf/").content.decode()

    response = client.post(
        "/buy/idf/",
        {
            **{key: value for key, value in buy_form().items() if not key.startswith("names-1-")},
            "names-TOTAL_FORMS": "1",
            "buyer_name": "Dvora Levi",
            "buyer_email": "dvora@example.org",
            "buyer_phone": "+972500000001",
        },
    )
    assert response.status_code == 302, re.findall(
        r"invalid-feedback[^<]*<[^<]*|alert-danger[^<]*", response.content.decode()
    )
    second = Order.objects.exclude(pk=first.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{second.token}/pay/"
    assert (second.buyer_name, second.buyer_email, second.buyer_phone) == (
        "Dvora Levi",
        "dvora@example.org",
        "+972500000001",
    )
    assert second.status == OrderStatus.PENDING and second.token != first.token


def test_add_a_name_is_only_for_a_paid_order(client, campaigns):
    pending = make_order(campaigns["idf"], 1)
    response = client.post(f"/orders/{pending.token}/another/")
    assert response.status_code == 302 and response["Location"] == f"/orders/{pending.token}/"
    assert pending.buyer_email not in client.get("/buy/idf/").content.decode()
    assert client.post("/orders/not-a-token/another/").status_code == 404
