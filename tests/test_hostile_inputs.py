"""Hostile input through every form, the API and the bulk import: a clear error or a safe
rendering, never a 500, and nothing saved that should not be.

The corpus goes through the Django test client (no browser), so it is fast. A value that is
accepted (an English name of "<script>...", say) must come back escaped wherever it is shown."""

import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from allocation.models import Gift, Name, Order, Reservation
from allocation.services import order_allocate, order_mark_paid
from registrations.models import NameImport
from siyum.models import Siyum

from .conftest import make_user, token_client
from .factories import make_order, shrink_open_scroll
from .test_buy_pages import buy_form
from .test_imports import HEADER, csv_bytes, rows

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
CORPUS = [
    SCRIPT,
    IMG,
    "'; DROP TABLE allocation_order;--",
    "1' OR '1'='1",
    "משה\u202eהשמ",  # right-to-left override
    "\u202dמשה\u2066x\u2067y\u2068z\u2069",  # left-to-right override and the isolates
    "מ\u200bשה\u200d\ufeff",  # zero-width space, joiner, byte-order mark
    "א" * 10_000,
    "x" * 10_000,
    "משה\x00כהן",  # a NUL byte
    "9" * 400,  # a very long number
    "-1",
    "-99999999999999999999",
    "1e309",
    "NaN",
    "{{ 7*7 }}{% debug %}",
    "../../../../etc/passwd",
    "",
    " ",
]
# Markup that must never come back unescaped in a page.
RAW_MARKUP = ["<script>alert(1)", "<img src=x onerror"]


def assert_safe(response):
    assert response.status_code < 500
    if response.get("Content-Type", "").startswith("text/html"):
        page = response.content.decode()
        for raw in RAW_MARKUP:
            assert raw not in page


@pytest.fixture
def no_limits(settings):
    """The corpus is many requests from one address: rate limits are tested elsewhere."""
    settings.RATELIMIT_SIGN_IN = "100000/m"
    settings.RATELIMIT_SIGN_IN_PER_IP = "100000/m"
    settings.RATELIMIT_PASSWORD_RESET = "100000/h"
    settings.API_THROTTLE_ANON = "100000/min"
    settings.API_THROTTLE_USER = "100000/min"
    settings.LETTERS_LOOKUP_PER_HOUR = 100000


@pytest.fixture
def shliach(db):
    return make_user("hostile-shliach", permissions=["accounts.register_names", "payments.record_offline_payment"])


# --- The buy page -----------------------------------------------------------------------------

BUY_FIELDS = ["names-0-hebrew_name", "names-0-parent_hebrew_name", "names-0-english_name", "names-0-gender",
              "buyer_name", "buyer_email", "buyer_phone", "amount", "names-TOTAL_FORMS"]  # fmt: skip


@pytest.mark.parametrize("field", BUY_FIELDS)
def test_the_buy_page_refuses_or_escapes_every_hostile_value(client, campaigns, field):
    for value in CORPUS:
        before = Order.objects.count()
        response = client.post("/buy/idf/", buy_form(**{field: value}))
        assert_safe(response)
        if response.status_code == 302:  # accepted (e.g. markup as an English name): shown escaped
            assert Order.objects.count() == before + 1
            order = Order.objects.latest("pk")
            order_mark_paid(order_id=order.pk)
            order_allocate(order_id=order.pk)
            page = client.get(f"/orders/{order.token}/")  # the buyer's letters, with the English name
            assert_safe(page)
            if field == "names-0-english_name" and value == SCRIPT:
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content.decode()
        else:
            assert response.status_code in (200, 400), (field, value[:40])
            assert Order.objects.count() == before
            if response.status_code == 200:
                page = response.content.decode()
                assert "invalid-feedback" in page or "alert-danger" in page or "errorlist" in page, (field, value[:40])


def test_invalid_utf8_in_a_form_is_refused(client, campaigns):
    # A lone surrogate cannot be sent as UTF-8; its bytes are invalid UTF-8 in the body.
    body = "&".join(f"{k}={v}" for k, v in buy_form().items() if k != "buyer_name").encode() + b"&buyer_name=%ED%A0%80"
    response = client.post("/buy/idf/", body, content_type="application/x-www-form-urlencoded")
    assert_safe(response)
    # Django reads undecodable bytes as U+FFFD: if the order is taken, no broken character is kept.
    for order in Order.objects.all():
        order.buyer_name.encode("utf-8")


# --- Sign-in, password reset, lookup -----------------------------------------------------------


def test_sign_in_password_reset_and_lookup_refuse_hostile_values(client, campaigns, no_limits, shliach):
    for value in CORPUS:
        response = client.post("/accounts/login/", {"username": value, "password": value})
        assert_safe(response)
        assert response.status_code in (200, 429) and "_auth_user_id" not in client.session
        response = client.post("/accounts/password_reset/", {"email": value})
        assert_safe(response)
        assert response.status_code in (200, 302)
        response = client.post("/letters/lookup/", {"email": value})
        assert_safe(response)
        assert response.status_code == 200  # none of these is an email address


def test_the_listed_names_search_and_lookup_refuse_or_escape_hostile_values(client, campaigns, no_limits, shliach):
    for value in CORPUS:
        response = client.get("/campaigns/idf/scrolls/1/names/", {"hebrew_name": value, "parent_hebrew_name": value})
        assert_safe(response)
        assert response.status_code == 200
        response = client.get("/campaigns/idf/scrolls/1/names/", {"page": value})
        assert_safe(response)
        assert response.status_code == 200
        response = client.post("/letters/lookup/name/", {"hebrew_name": value, "parent_hebrew_name": value})
        assert_safe(response)
        assert response.status_code == 200
        response = token_client(shliach).post(
            "/api/v1/orders/", api_order(dedication={"kind": value, "text": value}), format="json"
        )
        assert response.status_code == 400 and "dedication" in response.json()["names"]["0"], value[:40]


# --- The API ------------------------------------------------------------------------------------


def api_order(**name_overrides):
    name = {"hebrew_name": "משה", "parent_hebrew_name": "שרה", "gender": "m", "country": "IL"}
    name.update(name_overrides)
    return {
        "campaign": "idf",
        "buyer": {"name": "Rivka", "email": "rivka@example.org"},
        "names": [name],
        "payment": {"method": "offline", "reference": "receipt 1"},
    }


API_NAME_FIELDS = ["hebrew_name", "parent_hebrew_name", "gender", "english_name", "family_name", "city", "country",
                   "date_of_birth", "deceased"]  # fmt: skip


def test_the_api_answers_hostile_fields_with_400_naming_the_field_or_201(campaigns, shliach, no_limits):
    client = token_client(shliach)
    for field in API_NAME_FIELDS:
        for value in CORPUS + [10**400, -1, 1.5e308, None, [], {}, True]:
            before = Order.objects.count()
            response = client.post("/api/v1/orders/", api_order(**{field: value}), format="json")
            assert response.status_code in (201, 400), (field, str(value)[:40], response.status_code)
            if response.status_code == 400:
                assert field in response.json()["names"]["0"] and Order.objects.count() == before
            else:  # accepted (e.g. markup as an English name): kept as text, never a NUL
                saved = getattr(Name.objects.get(order_id=response.json()["id"]), field)
                assert "\x00" not in str(saved)


GIFT_FIELDS = ["recipient_name", "recipient_email", "language", "deliver_on", "message"]


def test_the_api_answers_hostile_gifts_with_400_naming_the_field_or_201(campaigns, shliach, no_limits):
    client = token_client(shliach)
    for field in GIFT_FIELDS:
        for value in CORPUS + [10**400, None, [], {}, True]:
            gift = {"recipient_name": "Chaya", "recipient_email": "chaya@example.org", field: value}
            before = Order.objects.count()
            response = client.post("/api/v1/orders/", api_order(gift=gift), format="json")
            assert response.status_code in (201, 400), (field, str(value)[:40], response.status_code)
            if response.status_code == 400:
                refused = response.json()["names"]["0"]
                assert field in refused.get("gift", {}) or f"gift_{field}" in refused, refused
                assert Order.objects.count() == before
            else:  # accepted (e.g. markup as a name): kept as text, never a NUL
                saved = Gift.objects.get(name__order_id=response.json()["id"])
                assert "\x00" not in str(getattr(saved, field))
    for gift in CORPUS[:4] + [[], 7]:  # not an object
        response = client.post("/api/v1/orders/", api_order(gift=gift), format="json")
        assert response.status_code == 400 and "gift" in response.json()["names"]["0"]


def test_a_gifts_correction_refuses_hostile_addresses(client, campaigns, no_limits):
    order = make_order(
        campaigns["idf"],
        names=[{"hebrew_name": "משה", "parent_hebrew_name": "שרה", "gender": "m",
                "gift": {"recipient_name": "Chaya", "recipient_email": "chaya@example.org"}}],
    )  # fmt: skip
    gift = Gift.objects.get()
    answers = [
        client.post(f"/orders/{order.token}/gifts/{gift.pk}/resend/", {"recipient_email": value}).status_code
        for value in CORPUS
    ]
    assert answers[:10] == [302] * 10 and set(answers) <= {302, 429}  # ten an hour from one address
    gift.refresh_from_db()
    assert gift.recipient_email == "chaya@example.org"
    assert_safe(client.get(f"/orders/{order.token}/"))


MALFORMED_ORDERS = [
    {**api_order(), "amount": "9" * 400},
    {**api_order(), "amount": "-5"},
    {**api_order(), "amount": "NaN"},
    {**api_order(), "amount": "Infinity"},
    {**api_order(), "campaign": SCRIPT},
    {**api_order(), "campaign": ["idf"]},
    {**api_order(), "names": "משה"},
    {**api_order(), "names": [None]},
    {**api_order(), "names": [[]]},
    {**api_order(), "buyer": {"name": "x" * 10_000, "email": SCRIPT}},
    {**api_order(), "buyer": "Rivka"},
    {**api_order(), "payment": {"method": SCRIPT}},
    {**api_order(), "payment": {"method": "offline", "reference": "x\x00y"}},
    {**api_order(), "payment": None},
    [api_order()],
    "not an object",
    None,
]


def test_the_api_refuses_malformed_orders(campaigns, shliach, no_limits):
    client = token_client(shliach)
    for payload in MALFORMED_ORDERS:
        response = client.post("/api/v1/orders/", payload, format="json")
        assert response.status_code == 400, payload
    assert not Order.objects.exists()


UNREADABLE_BODIES = [
    (b'{"campaign": "idf", "names": [', "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (
        b'{"campaign": "idf", "names": [{"hebrew_name": "\\ud800", "parent_hebrew_name": "\\udfff", "gender": "m"}],'
        b' "payment": {"method": "offline", "reference": "\\ud800"}}',
        "application/json",
    ),
    (b'{"campaign": "idf\\u0000", "names": [], "payment": {"method": "offline"}}', "application/json"),
    (b"campaign=idf&names=1", "application/x-www-form-urlencoded"),
    (b"<xml/>", "application/xml"),
    (b'{"names": ' + b"[" * 100_000, "application/json"),
]


def test_the_api_refuses_bodies_it_cannot_read(campaigns, shliach, no_limits):
    client = token_client(shliach)
    for body, content_type in UNREADABLE_BODIES:
        response = client.generic("POST", "/api/v1/orders/", body, content_type=content_type)
        assert 400 <= response.status_code < 500, body[:40]
    assert not Order.objects.exists()


def test_hostile_ids_in_api_urls_are_not_found(campaigns, no_limits):
    client = APIClient()
    for url in ["/api/v1/orders/99999999999999999999999/", "/api/v1/campaigns/%3Cscript%3E/scrolls/1/positions/1/",
                "/api/v1/campaigns/idf/scrolls/99999999999999999999/positions/1/",
                "/api/v1/campaigns/idf/scrolls/1/positions/99999999999999999999/"]:  # fmt: skip
        assert client.get(url).status_code == 404


# --- URLs of the pages --------------------------------------------------------------------------


def test_hostile_values_in_page_urls_are_not_found(client, campaigns, no_limits):
    from urllib.parse import quote

    for value in CORPUS:
        if not value.strip():
            continue
        quoted = quote(value[:2000], safe="")
        for template in ["/verify/{}/", "/orders/{}/", "/orders/{}/letters.csv", "/orders/{}/certificates/x.pdf",
                         "/buy/{}/", "/campaigns/{}/", "/widget/{}/", "/shliach/imports/{}/", "/gifts/{}/",
                         # Share images: an unknown object is not found, an unknown version sent on.
                         "/share/campaigns/{}/x.png", "/share/letters/{}/x.png", "/share/site/{}.png",
                         "/share/campaigns/idf/{}.png", "/share/campaigns/idf/scrolls/1/{}.png",
                         "/share/campaigns/idf/scrolls/1/letters/1/{}.png"]:  # fmt: skip
            response = client.get(template.format(quoted))
            assert_safe(response)
            assert response.status_code in (302, 404), (template, value[:40])
        response = client.get(f"/r/{quoted}/?next={quoted}")  # an unknown referral: on to the site
        assert response.status_code in (302, 404)  # 404: a "/" in the value is not a code
        assert response.status_code == 404 or response["Location"] == "/"
        assert_safe(client.get(f"/campaigns/idf/?page={quoted}"))
        assert client.post(f"/orders/{quoted}/another/").status_code == 404  # add a name: no such order


def test_the_transliteration_helper_answers_hostile_names_with_json_or_400(client, settings):
    settings.RATELIMIT_TRANSLITERATE = "100000/m"
    for value in CORPUS:
        response = client.get("/names/transliterate/", {"q": value[:5000]})
        assert response.status_code in (200, 400), value[:40]
        assert response["Content-Type"] == "application/json"
        body = response.json()
        if response.status_code == 400:
            assert body["error"]
        else:  # only the table's Hebrew is ever suggested: nothing of the value comes back in it
            assert all(not set(suggestion) & set("<>&`;") for suggestion in body["suggestions"]), value[:40]


# --- The bulk import ----------------------------------------------------------------------------


def zip_of_junk():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("junk.bin", b"\x00\x01\x02 not a workbook")
        archive.writestr("[Content_Types].xml", b"<Types><broken")
    return out.getvalue()


MALFORMED_FILES = [
    (
        "unbalanced.csv",
        b'hebrew_name,parent_hebrew_name,gender\n"\xd7\xa9\xd7\xa8\xd7\x94,\xd7\x9c\xd7\x90\xd7\x94,f\n',
    ),
    ("garbage.csv", bytes(range(256)) * 40),
    ("utf16.csv", "hebrew_name,parent_hebrew_name,gender\nשרה,לאה,f\n".encode("utf-16")),
    ("latin1.csv", "hebrew_name,parent_hebrew_name,gender\nJosé,María,f\n".encode("latin-1")),
    ("empty.csv", b""),
    ("header-only.csv", b"hebrew_name,parent_hebrew_name,gender\n"),
    ("nul.csv", b"hebrew_name,parent_hebrew_name,gender\n\x00\x00\x00,\x00,f\n"),
    ("junk.xlsx", zip_of_junk()),
    ("text.xlsx", b"hebrew_name,parent_hebrew_name,gender\n"),
    ("truncated.xlsx", b"PK\x03\x04" + b"\x00" * 50),
    ("names.exe", b"MZ\x90\x00"),
    ("wide.csv", (",".join(f"c{i}" for i in range(5000)) + "\n").encode()),
    ("long-line.csv", b"hebrew_name,parent_hebrew_name,gender\n" + b"a" * 300_000 + b",b,m\n"),
]


def import_posted(client, campaign, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/shliach/import/", {"campaign": campaign.pk, **data})
    assert_safe(response)
    if response.status_code == 302:
        with django_capture_on_commit_callbacks(execute=True):
            detail = client.get(response["Location"])
        assert_safe(detail)
        assert detail.status_code == 200
        return detail
    assert response.status_code == 200
    return response


def test_a_malformed_file_is_refused_with_a_message(client, campaigns, shliach, django_capture_on_commit_callbacks):
    client.force_login(shliach)
    for source_name, content in MALFORMED_FILES:
        latest = NameImport.objects.order_by("-pk").first()
        upload = io.BytesIO(content)
        upload.name = source_name
        page = import_posted(client, campaigns["idf"], django_capture_on_commit_callbacks, file=upload)
        name_import = NameImport.objects.order_by("-pk").first()
        if name_import == latest:  # refused by the form: the page says why
            assert "alert-danger" in page.content.decode() or "invalid-feedback" in page.content.decode(), source_name
        else:  # refused by the check (not left "checking" by a crash), its problem named
            assert name_import.status == "refused" and name_import.problems, source_name
    assert not Name.objects.exists() and not Order.objects.exists()


def test_a_file_above_the_upload_limit_is_refused(client, campaigns, shliach, settings,
                                                  django_capture_on_commit_callbacks):  # fmt: skip
    settings.IMPORT_MAX_BYTES = 10_000
    client.force_login(shliach)
    upload = io.BytesIO(csv_bytes(HEADER, rows(200)))
    upload.name = "names.csv"
    page = import_posted(client, campaigns["idf"], django_capture_on_commit_callbacks, file=upload)
    assert "MB" in page.content.decode() and not NameImport.objects.exists()


def test_hostile_pasted_rows_are_problems_shown_escaped(client, campaigns, shliach,
                                                        django_capture_on_commit_callbacks):  # fmt: skip
    client.force_login(shliach)
    header = "\t".join(HEADER)
    for value in CORPUS:
        for column in (0, 3, 4, 7):
            row = ["משה", "שרה", "m", "Moshe", "Cohen", "no", "Brooklyn", "us"]
            row[column] = value.replace("\t", " ").replace("\n", " ")
            import_posted(client, campaigns["idf"], django_capture_on_commit_callbacks,
                          pasted=f"{header}\n" + "\t".join(row))  # fmt: skip
    assert not Name.objects.exists()


# --- The grid ----------------------------------------------------------------------------------


def test_the_grid_keeps_or_refuses_hostile_rows_without_a_500(client, campaigns, shliach):
    client.force_login(shliach)
    url = "/shliach/grid/idf/draft/"
    for value in CORPUS:
        row = {"hebrew_name": value, "parent_hebrew_name": value, "gender": value, "english_name": value}
        response = client.put(url, json.dumps({"rows": [row]}), content_type="application/json")
        assert response.status_code in (200, 400), value[:40]
        assert_safe(client.get("/shliach/grid/idf/"))
        response = client.post("/shliach/grid/idf/submit/", {"consent": "on"})
        assert_safe(response)
    for body in [b"[1, 2]", b'{"rows": "x"}', b'{"rows": [1, null, "x", []]}', b'{"rows": [{"hebrew_name": 5}]}',
                 b"\xff\xfe", b'{"rows": [' * 5000, b'{"rows": [{"hebrew_name": "\\ud800"}]}',
                 b'{"rows": [{"english_name": "a\\u0000b"}]}']:  # fmt: skip
        response = client.put(url, body, content_type="application/json")
        assert response.status_code == 400, body[:20]
    assert not Order.objects.exists()


# --- Reports -----------------------------------------------------------------------------------


def test_report_filters_refuse_hostile_weeks(client, campaigns):
    from accounts.models import Profile

    member = make_user("hanhala-hostile", permissions=["accounts.view_reports"])
    Profile.objects.get_or_create(user=member)[0].campaigns.add(campaigns["idf"])
    client.force_login(member)
    for value in CORPUS + ["2025-02-30", "0000-01-03", "9999-12-31", "2025-1-3"]:
        response = client.get("/reports/idf/", {"week": value, "page": value})
        assert_safe(response)
        assert response.status_code in (200, 404)


# --- The staff's honour letters and siyum --------------------------------------------------------


def test_the_staff_forms_refuse_hostile_values(client, campaigns, staff_user):
    client.force_login(staff_user)
    scroll = campaigns["idf"].scrolls.get(state="open")
    for value in CORPUS:
        for field in ("scroll", "position", "honouree", "note"):
            data = {"scroll": scroll.pk, "position": 5, "honouree": "Rabbi", "note": "", field: value}
            response = client.post("/staff/honours/", data)
            assert_safe(response)
            assert response.status_code in (200, 302)
            if response.status_code == 302:
                assert_safe(client.get(response["Location"]))
                Reservation.objects.filter(scroll=scroll, position=5).delete()

    full = shrink_open_scroll(campaigns["sefardi"], 1)
    order = make_order(campaigns["sefardi"], 1)
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    for value in CORPUS:
        for field in ("held_on", "place", "notes"):
            data = {"held_on": "2025-01-01", "place": "770", "notes": "", field: value}  # no confirm: not held
            response = client.post(f"/staff/siyum/{full.pk}/", data)
            assert_safe(response)
            assert response.status_code == 200
    assert not Siyum.objects.exists()
    assert client.post("/staff/honours/99999999999999999999/give/").status_code == 404


# --- Personal data ------------------------------------------------------------------------------


def test_the_privacy_forms_refuse_or_escape_hostile_values(client, campaigns, no_limits):
    from allocation.services import Buyer
    from privacy.models import PrivacyLog

    staff = make_user("hostile-privacy-staff", is_staff=True, permissions=["privacy.erase_personal_data"])
    client.force_login(staff)
    kept = make_order(campaigns["idf"], 1, buyer=Buyer(name="Kept", email="kept@example.org"))
    for value in CORPUS:  # none of them is an address
        for url in ("/staff/privacy/", "/staff/privacy/export/", "/staff/privacy/erase/"):
            response = client.post(url, {"email": value, "reason": "asked", "confirm": "on"}, follow=True)
            assert_safe(response)
            assert response.status_code in (200, 400), (url, value[:40])
    assert not PrivacyLog.objects.exists()
    for value in CORPUS:  # as the reason of an erasure of an address nobody used
        response = client.post(
            "/staff/privacy/erase/", {"email": "nobody@example.org", "reason": value, "confirm": "on"}, follow=True
        )
        assert_safe(response)
        assert response.status_code in (200, 400), value[:40]
    reasons = set(PrivacyLog.objects.values_list("reason", flat=True))
    assert "" not in reasons and " " not in reasons and "משה\x00כהן" not in reasons and "x" * 10_000 not in reasons
    assert SCRIPT in reasons
    page = client.get("/staff/privacy/")
    assert_safe(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content.decode()
    kept.refresh_from_db()
    assert kept.buyer_email == "kept@example.org" and kept.erased_at is None


def test_the_self_service_export_refuses_hostile_values_and_links(client, campaigns, no_limits, settings):
    from urllib.parse import quote

    from privacy.models import PrivacyLog

    settings.PRIVACY_EXPORT_PER_IP = settings.PRIVACY_EXPORT_PER_ADDRESS = "100000/h"
    for value in CORPUS:
        response = client.post("/privacy/export/", {"email": value})
        assert_safe(response)
        assert response.status_code == 200  # none of these is an email address
        response = client.get(f"/privacy/export/{quote(value, safe='')}/")
        assert_safe(response)
        assert response.status_code == 404, value[:40]
    assert not PrivacyLog.objects.exists()


def test_the_accounts_page_refuses_hostile_months_and_organisations(client, campaigns):
    from urllib.parse import quote, urlencode

    from receipts.services import organisation_set

    organisation_set(slug="keren", name="Keren", jurisdiction="other", campaign_slugs=["idf"])
    client.force_login(make_user("hostile-treasurer", is_staff=True, permissions=["receipts.view_accounts"]))
    for value in CORPUS:
        for query in ({"organisation": value, "month": "2025-03"}, {"organisation": "keren", "month": value}):
            response = client.get("/staff/accounts/?" + urlencode(query))
            assert_safe(response)
            assert response.status_code == 400, (query, value[:40])
        for path in (f"keren/{quote(value, safe='')}.csv", f"{quote(value, safe='')}/2025-03.pdf"):
            response = client.get("/staff/accounts/" + path)
            assert_safe(response)
            assert response.status_code == 404, (path[:60], value[:40])
