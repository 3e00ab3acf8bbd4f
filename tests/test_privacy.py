"""Each person's rights over their data (the privacy app; docs/architecture.md, "Personal data"):
consent recorded at every door with the notice's version, the privacy page in three languages."""

import datetime
import re
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from allocation.models import Order
from allocation.services import Consent, order_cancel, order_place_again

from .conftest import token_client
from .factories import make_order, name_data
from .test_buy_pages import buy_form

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def notice_version(settings):
    """A version of our own, so that what is recorded is shown to come from the setting."""
    settings.PRIVACY_NOTICE_VERSION = "2031-04-05"
    return settings.PRIVACY_NOTICE_VERSION


def api_order(**extra):
    return {
        "campaign": "idf",
        "buyer": {"name": "Rivka Cohen", "email": "rivka@example.org"},
        "names": [{"hebrew_name": "משה", "parent_hebrew_name": "מרים", "gender": "m"}],
        "payment": {"method": "stripe"},
        **extra,
    }


@pytest.fixture
def demo(settings):
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""


# --- Consent ------------------------------------------------------------------------------------


def test_the_buy_page_refuses_an_order_without_consent_beside_the_box(client, campaigns):
    form = buy_form()
    del form["consent"]
    response = client.post("/buy/idf/", form)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_consent_error"' in page and "Please agree to the privacy notice" in page
    assert 'aria-invalid="true" aria-describedby="id_consent_error"' in page
    assert not Order.objects.exists()


def test_the_buy_page_records_the_consent_with_the_notices_version(client, campaigns, notice_version):
    page = client.get("/buy/idf/").content.decode()
    assert 'name="consent"' in page and 'href="/privacy/"' in page  # the box links the notice
    before = timezone.now()
    assert client.post("/buy/idf/", buy_form()).status_code == 302
    order = Order.objects.get()
    assert order.privacy_notice_version == "2031-04-05"
    assert before <= order.consent_at <= timezone.now()


def test_adding_a_name_without_javascript_keeps_the_box_as_it_was(client, campaigns):
    ticked = client.post("/buy/idf/", {**buy_form(), "add_name": "1"}).content.decode()
    assert re.search(r'id="id_consent"[^>]* checked', ticked) and "id_consent_error" not in ticked
    form = buy_form()
    del form["consent"]
    unticked = client.post("/buy/idf/", {**form, "add_name": "1"}).content.decode()
    assert not re.search(r'id="id_consent"[^>]* checked', unticked) and "id_consent_error" not in unticked


def test_the_api_requires_consent_without_a_token(campaigns, demo, notice_version):
    refused = APIClient().post("/api/v1/orders/", api_order(), format="json")
    assert refused.status_code == 400 and "privacy notice" in refused.json()["consent"][0]
    refused = APIClient().post("/api/v1/orders/", api_order(consent=False), format="json")
    assert refused.status_code == 400 and not Order.objects.exists()

    accepted = APIClient().post("/api/v1/orders/", api_order(consent=True), format="json")
    assert accepted.status_code == 201, accepted.json()
    order = Order.objects.get(pk=accepted.json()["id"])
    assert order.privacy_notice_version == "2031-04-05" and order.consent_at is not None


def test_a_registrar_with_a_token_may_give_the_consent_or_not(campaigns, trusted_shliach, notice_version):
    payload = {**api_order(), "payment": {"method": "offline", "reference": "receipt 9"}}
    without = token_client(trusted_shliach).post("/api/v1/orders/", payload, format="json")
    assert without.status_code == 201
    assert Order.objects.get(pk=without.json()["id"]).consent_at is None
    given = token_client(trusted_shliach).post("/api/v1/orders/", {**payload, "consent": True}, format="json")
    assert Order.objects.get(pk=given.json()["id"]).privacy_notice_version == "2031-04-05"


def test_the_api_schema_documents_the_consent(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    consent = schema["components"]["schemas"]["OrderCreate"]["properties"]["consent"]
    assert consent["type"] == "boolean" and "privacy notice" in consent["description"]


def test_starting_again_keeps_the_consent_given_for_the_order(campaigns):
    given = Consent(at=timezone.now() - datetime.timedelta(days=2), notice_version="2020-01-01")
    order = make_order(campaigns["idf"], 1, consent=given)
    order_cancel(order_id=order.pk)
    again = order_place_again(order=Order.objects.get(pk=order.pk))
    assert (again.consent_at, again.privacy_notice_version) == (given.at, "2020-01-01")


def test_the_database_refuses_to_change_a_recorded_consent(campaigns):
    order = make_order(campaigns["idf"], 1, consent=Consent.given_now())
    for change in ({"consent_at": None, "privacy_notice_version": ""}, {"privacy_notice_version": "1999-01-01"}):
        with pytest.raises(IntegrityError, match="consent recorded when it was placed never changes"):
            with transaction.atomic():
                Order.objects.filter(pk=order.pk).update(**change)
    unconsented = make_order(campaigns["idf"], 1)
    with pytest.raises(IntegrityError, match="never changes"), transaction.atomic():
        Order.objects.filter(pk=unconsented.pk).update(consent_at=timezone.now(), privacy_notice_version="x")
    # A consent is recorded whole (its moment with the notice's version) or not at all.
    with pytest.raises(IntegrityError, match="order_consent_has_date_and_version"), transaction.atomic():
        make_order(campaigns["idf"], 1, consent=Consent(at=timezone.now(), notice_version=""))


# An order's consent written: an attribute set, a keyword of a call that writes (alone on its line
# in a call of several lines), setattr. A field defined on a model or a condition is no write.
CONSENT_WRITE = re.compile(
    r"\.(consent_at|privacy_notice_version)\s*=(?!=)"
    r"|^\s*(consent_at|privacy_notice_version)\s*=(?!=)(?!\s*models\.)"
    r"|\b(update|create|Order)\([^)]*\b(consent_at|privacy_notice_version)\s*=(?!=)"
    r"|setattr\([^,]+,\s*['\"](consent_at|privacy_notice_version)"
)
PLACEMENT = ROOT / "allocation" / "services" / "placement.py"


def test_the_consent_check_finds_what_it_looks_for():
    caught = [
        "order.consent_at = now",
        "Order.objects.filter(pk=1).update(privacy_notice_version='x')",
        'setattr(o, "consent_at", 1)',
        "    consent_at=timezone.now(),",
        "Order(campaign=c, consent_at=now)",
    ]
    assert [line for line in caught if not CONSENT_WRITE.search(line)] == []
    read = [
        "if order.consent_at == x:",
        "    consent_at = models.DateTimeField(",
        'condition=Q(consent_at__isnull=True, privacy_notice_version="")',
    ]
    assert [line for line in read if CONSENT_WRITE.search(line)] == []


def test_only_order_place_writes_an_orders_consent():
    skipped = {"tests", "bench", "migrations", ".venv", "node_modules"}
    found = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if skipped & set(relative.parts) or path == PLACEMENT:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CONSENT_WRITE.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []
    placement = PLACEMENT.read_text(encoding="utf-8").splitlines()
    assert any(CONSENT_WRITE.search(line) for line in placement), "the service itself is found"


# --- The privacy page ----------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "direction"), [("en", "ltr"), ("he", "rtl"), ("ru", "ltr")])
def test_the_privacy_page_in_each_language(client, db, language, direction, notice_version, settings):
    settings.PRIVACY_CONTACT_EMAIL = "privacy@example.org"
    response = client.get("/privacy/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<html lang="{language}" dir="{direction}">' in page
    assert "2031-04-05" in page and "mailto:privacy@example.org" in page


def test_the_privacy_page_says_the_retention_settings(client, db, settings):
    settings.PERSONAL_DATA_RETENTION_YEARS = 7
    settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS = 30
    page = client.get("/privacy/").content.decode()
    assert "erased 7 years after the order" in page and "erased 30 days after the order is paid" in page
    settings.PERSONAL_DATA_RETENTION_YEARS = 0
    settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS = None
    page = client.get("/privacy/").content.decode()
    assert "until you ask us to erase them" in page and "date of birth: erased" not in page


def test_every_page_links_the_privacy_page_from_its_footer(client, campaigns):
    for path in ("/", "/buy/idf/", "/letters/lookup/"):
        page = client.get(path).content.decode()
        assert re.search(r'<footer[^>]*>\s*<a href="/privacy/"', page), path


def test_names_and_orders_still_come_in_without_a_consent_from_staff_doors(campaigns):
    # The admin, honour letters and the command line record none: nobody gave one there.
    order = make_order(campaigns["idf"], 1, names=[name_data(0)])
    assert order.consent_at is None and order.privacy_notice_version == ""


# --- Export and erasure: the commands ------------------------------------------------------------

# Values found nowhere else, so that the whole database can be searched for them.
ADDRESS = "Zelda.Quixote@Example.org"
BUYER_NAME = "Zelda Quixotic-Buyer"
PHONE = "+1-555-0199-777"
ENGLISH_NAME = "Yentl Unmistakable"
FAMILY_NAME = "Brzezinskowitz"
CITY = "Xanadu-on-Sea"
DEDICATION = "For Zlateh Quintessential"
OTHER = "someone.else@example.org"


def database_rows_containing(*texts: str) -> dict:
    """Every text, varchar and JSON column of every table of ours that holds `text` (any case).
    With several texts, a dict of those answers by text, read in one pass over each column."""
    from django.db import connection

    found = {text: {} for text in texts}
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb')"""
        )
        counts = ", ".join('count(*) FILTER (WHERE "{column}"::text ILIKE %s)' for _ in texts)
        for table, column in cursor.fetchall():
            cursor.execute(f'SELECT {counts.format(column=column)} FROM "{table}"', [f"%{text}%" for text in texts])
            for text, count in zip(texts, cursor.fetchone()):
                if count:
                    found[text][f"{table}.{column}"] = count
    return found[texts[0]] if len(texts) == 1 else found


@pytest.fixture
def held(campaigns):
    """What an address holds: a paid order with two names, certificates issued (a sheet and a
    booklet), one name corrected (its history), a pending order in another case of the address,
    a siyum notice; and another buyer's order, which must stay as it is."""
    from allocation.services import Buyer, name_correct, order_allocate, order_mark_paid
    from certificates.services import order_booklet_build, order_certificates_issue
    from payments.services import payment_record_offline

    from .conftest import make_user

    idf = campaigns["idf"]
    buyer = Buyer(name=BUYER_NAME, email=ADDRESS, phone=PHONE)
    names = [
        name_data(
            0,
            english_name=ENGLISH_NAME,
            family_name=FAMILY_NAME,
            city=CITY,
            dedication_kind="in_honour",
            dedication_text=DEDICATION,
            listed=True,
        ),
        name_data(1, english_name="Second Person", city=CITY),
    ]
    paid = make_order(idf, names=names, buyer=buyer, consent=Consent.given_now())
    office = make_user("zq-office", permissions=["payments.record_offline_payment"])
    payment_record_offline(order=paid, reference="receipt 77", recorded_by=office)  # paid and allocated
    order_certificates_issue(order_id=paid.pk)
    order_booklet_build(order_id=paid.pk)
    first = paid.names.order_by("id").first()
    name_correct(name_id=first.pk, data={"english_name": ENGLISH_NAME + " Jr"})  # a row in the history
    pending = make_order(campaigns["sefardi"], 1, buyer=Buyer(name=BUYER_NAME, email=ADDRESS.upper()))
    other = make_order(idf, 1, buyer=Buyer(name="Other Buyer", email=OTHER))
    order_mark_paid(order_id=other.pk)
    order_allocate(order_id=other.pk)
    order_certificates_issue(order_id=other.pk)
    return {"paid": paid, "pending": pending, "other": other}


@pytest.fixture
def siyum_notice(campaigns):
    from django.contrib.auth.models import User

    from siyum.models import Siyum, SiyumNotice

    scroll = campaigns["idf"].scrolls.get(state="open")
    held_by = User.objects.create_user("siyum-staff", is_staff=True)
    siyum = Siyum.objects.create(scroll=scroll, held_on=datetime.date(2026, 1, 4), place="770", held_by=held_by)
    return SiyumNotice.objects.create(siyum=siyum, email=ADDRESS.lower(), letters=2)


def run_command(name, *args):
    import io

    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_the_export_command_writes_everything_held_about_the_address(held, siyum_notice, tmp_path, settings):
    import json

    from certificates.models import Certificate
    from privacy.models import PrivacyLog
    from privacy.selectors import address_hash

    settings.SITE_URL = "https://letters.example"
    path = tmp_path / "export.json"
    said = run_command("export_personal_data", "--email", "zelda.quixote@EXAMPLE.org", "--output", str(path))
    assert str(path) in said and "orders 2" in said
    assert path.stat().st_mode & 0o077 == 0  # the owner's alone
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "unitysefer-personal-data/1" and data["email"] == "zelda.quixote@example.org"

    paid, pending = held["paid"], held["pending"]
    assert [order["id"] for order in data["orders"]] == [paid.pk, pending.pk]  # any case of the address
    first = data["orders"][0]
    assert first["buyer"] == {"name": BUYER_NAME, "email": ADDRESS, "phone": PHONE}
    assert first["amount"] == str(paid.amount) and first["status"] == "paid"
    assert first["consent"]["privacy_notice_version"] == paid.privacy_notice_version
    assert first["link"] == f"https://letters.example/orders/{paid.token}/"
    name = first["names"][0]
    assert (name["hebrew_name"], name["english_name"], name["city"]) == ("מנחם מענדל", ENGLISH_NAME + " Jr", CITY)
    assert name["letter"] == {"scroll": 1, "position": 1} and name["family_name"] == FAMILY_NAME
    assert [row["english_name"] for row in name["history"]] == [ENGLISH_NAME + " Jr"]  # as corrected
    assert name["dedication"] == {"kind": "in_honour", "text": DEDICATION} and name["listed"] is True
    assert data["orders"][1]["consent"] is None and data["orders"][1]["names"][0]["letter"] is None

    codes = set(Certificate.objects.filter(name__order=paid).values_list("code", flat=True))
    assert {certificate["code"] for certificate in data["certificates"]} == codes
    assert all(c["verify_url"] == f"https://letters.example/verify/{c['code']}/" for c in data["certificates"])
    [payment] = data["payments"]
    assert payment["amount"] == str(paid.amount) and payment["provider"] == "offline"
    assert set(payment) == {"order_id", "provider", "status", "amount", "currency", "created_at"}  # no reference
    assert data["siyum_notices"] == [
        {"campaign": "idf", "scroll": 1, "held_on": "2026-01-04", "place": "770", "letters": 2, "sent_at": None}
    ]
    assert data["account"] == [] and data["name_imports"] == {"imports": [], "drafts": []}
    text = path.read_text(encoding="utf-8")
    assert OTHER not in text and "Other Buyer" not in text and held["other"].token not in text

    log = PrivacyLog.objects.get()
    assert log.action == "export" and log.subject_hash == address_hash(ADDRESS) and log.operator
    assert log.counts["orders"] == 2 and ADDRESS.lower() not in str(log.__dict__).lower()


def test_the_export_command_refuses_what_is_no_address(db, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="valid email address"):
        run_command("export_personal_data", "--email", "not an address", "--output", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_an_address_nobody_used_exports_empty_sections(db, tmp_path):
    import json

    said = run_command("export_personal_data", "--email", "nobody@example.org", "--output", str(tmp_path / "n.json"))
    assert "nothing is held" in said
    data = json.loads((tmp_path / "n.json").read_text())
    assert data["orders"] == [] and data["certificates"] == [] and data["account"] == []


def test_the_erase_command_erases_the_contact_data_and_keeps_the_letters(
    held, siyum_notice, client, django_capture_on_commit_callbacks
):
    from allocation.models import Letter, Name
    from certificates.models import Certificate, CertificateSheet, OrderCertificates
    from payments.models import Payment
    from privacy.models import PrivacyLog
    from privacy.selectors import address_hash

    from .test_certificates import pdf_text

    paid, pending, other = held["paid"], held["pending"], held["other"]
    letters_before = sorted(Letter.objects.values_list("name_id", "scroll_id", "position"))
    hebrew_before = sorted(Name.objects.values_list("id", "hebrew_name", "parent_hebrew_name", "gender"))
    payments_before = sorted(Payment.objects.values_list("id", "amount", "currency", "status"))
    certificate = Certificate.objects.filter(name__order=paid).order_by("name_id").first()
    old_file = certificate.file.name
    assert ENGLISH_NAME in pdf_text(certificate.file.read())
    values = (ADDRESS, BUYER_NAME, PHONE, ENGLISH_NAME, FAMILY_NAME, CITY, DEDICATION)
    for value, found in database_rows_containing(*values).items():
        assert found, value  # the search finds them before

    with django_capture_on_commit_callbacks(execute=True):
        said = run_command("erase_personal_data", "--email", ADDRESS.lower(), "--reason", "Asked by email, ticket 12")
    assert "orders 2" in said and "privacy log #" in said

    # Gone from every table, the history tables and the privacy log included.
    assert database_rows_containing(*values) == {value: {} for value in values}
    for order in (paid, pending):
        order.refresh_from_db()
        assert (order.buyer_name, order.buyer_email, order.buyer_phone) == ("", "", "") and order.erased_at
    assert set(Name.objects.filter(order__in=[paid, pending]).values_list("english_name", "family_name", "city")) == {
        ("", "", "")
    }
    # A dedication's words go and the name leaves the public list; the kind of dedication stays.
    assert set(Name.objects.filter(order=paid).values_list("dedication_text", "listed")) == {("", False)}
    assert Name.objects.filter(order=paid, dedication_kind="in_honour").count() == 1
    # The Hebrew names stay in their letters; amounts, payments and the consent stay.
    assert sorted(Letter.objects.values_list("name_id", "scroll_id", "position")) == letters_before
    assert sorted(Name.objects.values_list("id", "hebrew_name", "parent_hebrew_name", "gender")) == hebrew_before
    assert sorted(Payment.objects.values_list("id", "amount", "currency", "status")) == payments_before
    assert paid.amount == Order.objects.get(pk=paid.pk).amount and paid.consent_at is not None
    # The certificate verifies, with its code, and was drawn again without the English name.
    certificate.refresh_from_db()
    assert certificate.file.name != old_file and not certificate.file.storage.exists(old_file)
    assert ENGLISH_NAME not in pdf_text(certificate.file.read())
    assert not CertificateSheet.objects.filter(order=paid).exists()
    assert not OrderCertificates.objects.get(order=paid).booklet
    verify = client.get(f"/verify/{certificate.code}/")
    assert verify.status_code == 200 and "מנחם מענדל" in verify.content.decode()
    # The other buyer's order is as it was.
    other.refresh_from_db()
    assert (other.buyer_email, other.erased_at) == (OTHER, None)
    assert Name.objects.get(order=other).english_name == "Person 0"
    # Audited: who, why, when, without the address.
    log = PrivacyLog.objects.get(action="erasure")
    assert log.reason == "Asked by email, ticket 12" and log.operator and log.by is None
    assert log.subject_hash == address_hash(ADDRESS) and sorted(log.order_ids) == sorted([paid.pk, pending.pk])
    assert log.counts["orders"] == 2 and log.counts["siyum_notices"] == 1 and log.counts["certificates"] == 2


def test_erasing_again_says_it_was_erased_before_and_finds_nothing(held):
    run_command("erase_personal_data", "--email", ADDRESS)
    said = run_command("erase_personal_data", "--email", ADDRESS, "--operator", "office")
    assert "Erased before:" in said and "nothing was held" in said


def test_a_dry_run_says_what_is_held_and_changes_nothing(held):
    from privacy.models import PrivacyLog

    said = run_command("erase_personal_data", "--email", ADDRESS, "--dry-run")
    assert "orders 2" in said and "nothing changed" in said
    assert Order.objects.filter(buyer_email__iexact=ADDRESS).count() == 2 and not PrivacyLog.objects.exists()


def test_an_erased_order_cannot_be_started_again_and_stays_erased(held):
    from django.core.exceptions import ValidationError

    run_command("erase_personal_data", "--email", ADDRESS)
    pending = Order.objects.get(pk=held["pending"].pk)
    order_cancel(order_id=pending.pk)
    with pytest.raises(ValidationError, match="personal details were erased"):
        order_place_again(order=Order.objects.get(pk=pending.pk))
    # The database keeps it erased, whatever writes the row (the admin's history revert too).
    for change in ({"buyer_email": ADDRESS}, {"buyer_name": "Back"}, {"erased_at": None}):
        with pytest.raises(IntegrityError, match="stay erased"), transaction.atomic():
            Order.objects.filter(pk=pending.pk).update(**change)
    # And its log, as written.
    from privacy.models import PrivacyLog

    with pytest.raises(IntegrityError, match="kept as written"), transaction.atomic():
        PrivacyLog.objects.update(reason="changed")
    with pytest.raises(IntegrityError, match="kept as written"), transaction.atomic():
        PrivacyLog.objects.all().delete()


def test_an_erased_order_paid_later_gets_its_letters_and_certificates(held, django_capture_on_commit_callbacks):
    from allocation.services import order_allocate, order_mark_paid
    from certificates.models import Certificate
    from certificates.services import order_certificates_issue

    run_command("erase_personal_data", "--email", ADDRESS)
    pending = held["pending"]
    order_mark_paid(order_id=pending.pk)
    order_allocate(order_id=pending.pk)
    assert order_certificates_issue(order_id=pending.pk) == 1
    assert Certificate.objects.filter(name__order=pending).exists()


def test_an_account_with_the_address_is_closed_and_emptied(campaigns, tmp_path):
    import json

    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from allocation.services import Buyer

    from .conftest import make_user

    shliach = make_user("zq-shliach", permissions=["accounts.register_names"])
    User.objects.filter(pk=shliach.pk).update(email=ADDRESS, first_name="Zelda", last_name="Quixotic-Shliach")
    Token.objects.create(user=shliach)
    registered = make_order(campaigns["idf"], 2, buyer=Buyer(), created_by=shliach)
    run_command("export_personal_data", "--email", ADDRESS, "--output", str(tmp_path / "a.json"))
    [account] = json.loads((tmp_path / "a.json").read_text())["account"]
    assert account["username"] == "zq-shliach" and account["last_name"] == "Quixotic-Shliach"
    assert account["api_token"] is True and "key" not in json.dumps(account)
    assert account["orders_registered"] == [
        {
            "id": registered.pk,
            "campaign": "idf",
            "channel": "online",
            "status": "pending",
            "created_at": registered.created_at.isoformat(),
            "names": 2,
            "amount": str(registered.amount),
            "currency": registered.currency,
        }
    ]
    run_command("erase_personal_data", "--email", ADDRESS)
    user = User.objects.get(pk=shliach.pk)
    assert (user.username, user.email, user.first_name, user.last_name) == (f"erased-{user.pk}", "", "", "")
    assert not user.is_active and not user.has_usable_password() and not Token.objects.filter(user=user).exists()
    assert database_rows_containing("Quixotic-Shliach", "zq-shliach") == {"Quixotic-Shliach": {}, "zq-shliach": {}}
    # The names it registered are other people's: they stay, in their order.
    assert Order.objects.get(pk=registered.pk).names.exclude(english_name="").count() == 2


def test_a_staff_account_is_not_erased_and_nothing_changes(held):
    from django.contrib.auth.models import User
    from django.core.management.base import CommandError

    from privacy.models import PrivacyLog

    User.objects.create_user("zq-staff", ADDRESS, "pw", is_staff=True)
    with pytest.raises(CommandError, match="staff account"):
        run_command("erase_personal_data", "--email", ADDRESS)
    assert Order.objects.filter(buyer_email__iexact=ADDRESS).count() == 2 and not PrivacyLog.objects.exists()


def test_who_and_why_are_required(held):
    from django.core.exceptions import ValidationError

    from privacy.services import personal_data_erase

    with pytest.raises(ValidationError, match="why"):
        personal_data_erase(email=ADDRESS, reason="  ", operator="office")
    with pytest.raises(ValidationError, match="who"):
        personal_data_erase(email=ADDRESS, reason="asked", operator="")
    assert Order.objects.filter(buyer_email__iexact=ADDRESS).count() == 2


# --- Export and erasure: the staff's pages -------------------------------------------------------


@pytest.fixture
def staff(db):
    from .conftest import make_user

    return make_user("privacy-staff", is_staff=True, permissions=["privacy.erase_personal_data"])


def test_staff_look_an_address_up_and_see_what_is_held(client, held, staff):
    client.force_login(staff)
    page = client.get("/staff/privacy/").content.decode()
    assert 'id="privacy-lookup"' in page and 'id="nav-privacy"' in page
    response = client.post("/staff/privacy/", {"email": ADDRESS.upper()})
    page = response.content.decode()
    assert response.status_code == 200 and ADDRESS.lower() in page
    assert re.search(r"<td>Orders and their names</td><td dir=\"ltr\">2</td>", page)
    assert re.search(r"<td>Certificates</td><td dir=\"ltr\">2</td>", page)
    assert 'id="privacy-export"' in page and 'id="privacy-erase"' in page
    assert ADDRESS.lower() not in client.get("/staff/privacy/").content.decode()  # nothing kept between requests


def test_staff_without_the_permission_may_export_but_not_erase(client, held):
    from .conftest import make_user

    client.force_login(make_user("staff-no-erasing", is_staff=True))
    page = client.post("/staff/privacy/", {"email": ADDRESS}).content.decode()
    assert 'id="privacy-export"' in page and 'id="privacy-erase"' not in page
    form = {"email": ADDRESS, "reason": "asked", "confirm": "on"}
    assert client.post("/staff/privacy/erase/", form).status_code == 403
    assert Order.objects.filter(buyer_email__iexact=ADDRESS).count() == 2


def test_the_staff_export_downloads_the_json_and_is_logged(client, held, staff):
    import json

    from privacy.models import PrivacyLog

    client.force_login(staff)
    response = client.post("/staff/privacy/export/", {"email": ADDRESS})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="personal-data-') and "zelda" not in disposition.lower()
    assert response["Cache-Control"] == "private, no-store"
    data = json.loads(response.content)
    assert [order["id"] for order in data["orders"]] == [held["paid"].pk, held["pending"].pk]
    log = PrivacyLog.objects.get()
    assert (log.action, log.by, log.counts["orders"]) == ("export", staff, 2)


def test_the_staff_erasure_erases_and_is_audited(client, held, staff, django_capture_on_commit_callbacks):
    from privacy.models import PrivacyLog

    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/staff/privacy/erase/", {"email": ADDRESS, "reason": "Asked by phone", "confirm": "on"}, follow=True
        )
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/staff/privacy/" and "were erased" in page
    values = (ADDRESS, BUYER_NAME, PHONE, ENGLISH_NAME, CITY)
    assert database_rows_containing(*values) == {value: {} for value in values}
    log = PrivacyLog.objects.get()
    assert (log.action, log.by, log.reason, log.operator) == ("erasure", staff, "Asked by phone", "")
    assert "Asked by phone" in page and 'id="privacy-log"' in page  # the log on the page


@pytest.mark.parametrize(
    "form", [{"reason": "", "confirm": "on"}, {"reason": "asked"}, {"reason": "   ", "confirm": "on"}]
)
def test_the_staff_erasure_needs_a_reason_and_the_box_and_changes_nothing_without(client, held, staff, form):
    from privacy.models import PrivacyLog

    client.force_login(staff)
    response = client.post("/staff/privacy/erase/", {"email": ADDRESS, **form})
    assert response.status_code == 400 and 'id="privacy-erase"' in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert Order.objects.filter(buyer_email__iexact=ADDRESS).count() == 2 and not PrivacyLog.objects.exists()


def test_a_bad_address_on_the_staff_pages_is_said_and_changes_nothing(client, held, staff):
    from privacy.models import PrivacyLog

    client.force_login(staff)
    assert client.post("/staff/privacy/", {"email": "no address"}).status_code == 400
    for url in ("/staff/privacy/export/", "/staff/privacy/erase/"):
        response = client.post(url, {"email": "no address", "reason": "x", "confirm": "on"}, follow=True)
        assert "Enter a valid email address." in response.content.decode()
    assert not PrivacyLog.objects.exists()


def test_nobody_but_staff_exports_or_erases(client, held):
    from django.test import Client

    from privacy.models import PrivacyLog

    from .conftest import make_user

    shliach = make_user("privacy-shliach", permissions=["accounts.register_names", "privacy.erase_personal_data"])
    form = {"email": ADDRESS, "reason": "asked", "confirm": "on"}
    for user in (None, shliach):
        visitor = Client()
        if user is not None:
            visitor.force_login(user)
        for url in ("/staff/privacy/", "/staff/privacy/export/", "/staff/privacy/erase/"):
            response = visitor.post(url, form)
            expected = 403 if user else 302
            assert response.status_code == expected, (user, url)
            if user is None:
                assert response["Location"].startswith("/accounts/login/")
    # The buyer, holding their order's link, is anyone signed out here.
    assert Client().post("/staff/privacy/export/", form).status_code == 302
    assert Order.objects.filter(buyer_email__iexact=ADDRESS).count() == 2 and not PrivacyLog.objects.exists()


# --- "Send me my data": the emailed link ---------------------------------------------------------


def link_in(message) -> str:
    """The path of the link a message carries."""
    [url] = re.findall(r"https?://\S+/privacy/export/\S+/", message.body)
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def links_sent(mailoutbox):
    """The messages sent from here on that carry a link to a person's data (the held orders'
    confirmations went out before)."""
    mailoutbox.clear()
    return mailoutbox


def test_a_person_gets_their_data_by_an_emailed_link(client, held, links_sent, django_capture_on_commit_callbacks):
    import json

    from privacy.models import PrivacyLog
    from privacy.selectors import address_hash

    assert 'href="/privacy/export/"' in client.get("/privacy/").content.decode()  # the notice links it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/privacy/export/", {"email": ADDRESS}, follow=True)
    assert "we have sent a link" in response.content.decode()
    [message] = links_sent
    assert message.to == [ADDRESS.lower()] and "24 hours" in message.body
    path = link_in(message)
    assert ADDRESS.lower() not in path  # signed and compressed, not the address in plain text
    download = client.get(path)
    assert download.status_code == 200 and download["Content-Type"] == "application/json"
    assert download["Content-Disposition"].startswith('attachment; filename="my-data-')
    data = json.loads(download.content)
    assert [order["id"] for order in data["orders"]] == [held["paid"].pk, held["pending"].pk]
    log = PrivacyLog.objects.get()
    assert (log.action, log.by, log.subject_hash) == ("self_export", None, address_hash(ADDRESS))


def test_the_answer_is_the_same_whether_anything_is_held_or_not(
    client, held, links_sent, django_capture_on_commit_callbacks
):
    def answer(email):
        with django_capture_on_commit_callbacks(execute=True):
            page = client.post("/privacy/export/", {"email": email}, follow=True).content.decode()
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page).replace(email.lower(), "EMAIL")

    assert answer(ADDRESS) == answer("nobody.at.all@example.org")
    assert [message.to for message in links_sent] == [[ADDRESS.lower()]]  # nothing held: nothing sent


def _token_made_hours_ago(monkeypatch, hours):
    from django.core import signing

    from privacy.services import personal_data_link_token

    then = int(timezone.now().timestamp() - hours * 3600)
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(then))
    token = personal_data_link_token(email=ADDRESS)
    monkeypatch.undo()
    return token


def test_the_link_works_for_its_hours_then_expires(client, held, monkeypatch, settings):
    settings.PRIVACY_EXPORT_LINK_HOURS = 24
    assert client.get(f"/privacy/export/{_token_made_hours_ago(monkeypatch, 23)}/").status_code == 200
    expired = client.get(f"/privacy/export/{_token_made_hours_ago(monkeypatch, 25)}/")
    assert expired.status_code == 410 and "This link has expired" in expired.content.decode()
    assert 'href="/privacy/export/"' in expired.content.decode()  # ask for a new one


def test_a_link_we_did_not_sign_finds_nothing(client, held):
    from django.core import signing

    from privacy.models import PrivacyLog
    from privacy.services import personal_data_link_token

    token = personal_data_link_token(email=ADDRESS)
    forged = signing.dumps(ADDRESS.lower(), salt="another-salt", compress=True)
    for path in (f"/privacy/export/{token[:-2]}xx/", f"/privacy/export/{forged}/", "/privacy/export/x:y:z/"):
        response = client.get(path)
        assert response.status_code == 404 and "This link is not valid" in response.content.decode(), path
    assert not PrivacyLog.objects.exists()


def test_requests_are_limited_per_ip_address_then_per_address(
    client, held, links_sent, settings, django_capture_on_commit_callbacks
):
    settings.PRIVACY_EXPORT_PER_IP = "2/h"
    settings.PRIVACY_EXPORT_PER_ADDRESS = "2/d"

    def ask(email, ip):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/privacy/export/", {"email": email}, REMOTE_ADDR=ip)

    def sent():
        return [message.to[0] for message in links_sent]

    # Within their own limits, an address is told twice a day, however many ask.
    assert [ask(ADDRESS, ip).status_code for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [302, 302, 302]
    assert sent() == [ADDRESS.lower()] * 2  # the third had the same answer, and no email
    # A caller over its own limit gets 429 and counts against nobody's address.
    assert ask(OTHER, "10.0.0.2").status_code == 302
    refused = ask(OTHER, "10.0.0.2")
    assert refused.status_code == 429 and "Too many requests" in refused.content.decode()
    assert ask(OTHER, "10.0.0.4").status_code == 302
    assert sent() == [ADDRESS.lower()] * 2 + [OTHER] * 2  # the refused request did not use up OTHER's second


# --- Retention ---------------------------------------------------------------------------------------


def test_retention_is_off_by_default(held, settings):
    from privacy.services import personal_data_expire

    assert settings.PERSONAL_DATA_RETENTION_YEARS == 0 and settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS is None
    assert personal_data_expire(now=timezone.now() + datetime.timedelta(days=365 * 50)) == []
    assert Order.objects.filter(erased_at__isnull=False).count() == 0


def test_retention_erases_the_orders_older_than_the_setting_only(
    held, siyum_notice, settings, django_capture_on_commit_callbacks
):
    from allocation.models import Letter, Name
    from certificates.models import Certificate
    from privacy.services import personal_data_expire

    from .test_certificates import pdf_text

    settings.PERSONAL_DATA_RETENTION_YEARS = 3
    settings.IMPORT_FILES_KEPT_DAYS = 0
    paid, pending, other = held["paid"], held["pending"], held["other"]
    now = timezone.now()
    Order.objects.filter(pk=paid.pk).update(created_at=now - datetime.timedelta(days=3 * 365 + 2))
    Order.objects.filter(pk=other.pk).update(created_at=now - datetime.timedelta(days=3 * 365 - 2))
    letters = sorted(Letter.objects.values_list("name_id", "position"))
    with django_capture_on_commit_callbacks(execute=True):
        [entry] = personal_data_expire(now=now)
    assert entry.action == "retention" and entry.subject_hash == "" and "before" in entry.reason
    assert entry.counts["orders"] == 1 and entry.counts["certificates"] == 2
    paid.refresh_from_db()
    assert (paid.buyer_email, paid.buyer_name, paid.erased_at) == ("", "", now)
    assert set(Name.objects.filter(order=paid).values_list("english_name", "city")) == {("", "")}
    assert not Order.history.filter(id=paid.pk).exclude(buyer_email="").exists()
    certificate = Certificate.objects.filter(name__order=paid).order_by("name_id").first()
    assert ENGLISH_NAME not in pdf_text(certificate.file.read())
    # Younger than three years: as they were; the letters as they were.
    for younger in (pending, other):
        younger.refresh_from_db()
        assert younger.buyer_email and younger.erased_at is None
    assert sorted(Letter.objects.values_list("name_id", "position")) == letters
    # The siyum notice is of a siyum held this year: kept. Again: nothing more is due.
    assert siyum_notice.__class__.objects.filter(pk=siyum_notice.pk).exists()
    assert personal_data_expire(now=now) == []


def test_retention_deletes_the_notices_of_old_siyumim(siyum_notice, settings):
    from privacy.services import personal_data_expire

    settings.PERSONAL_DATA_RETENTION_YEARS = 2
    [entry] = personal_data_expire(now=timezone.now().replace(year=2028, month=6))
    assert entry.counts["siyum_notices"] == 1 and not siyum_notice.__class__.objects.exists()


def test_childrens_dates_of_birth_are_erased_after_payment_once_checked(campaigns, settings):
    from allocation.models import Name
    from allocation.services import name_correct, order_allocate, order_mark_paid
    from privacy.services import personal_data_expire

    from .factories import child_name_data

    settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS = 30
    paid = make_order(campaigns["children"], 2, names=[child_name_data(0), child_name_data(1)])
    order_mark_paid(order_id=paid.pk)
    order_allocate(order_id=paid.pk)
    unpaid = make_order(campaigns["children"], 1, names=[child_name_data(0)])
    grown = make_order(campaigns["idf"], 1, names=[name_data(0, date_of_birth=datetime.date(1980, 5, 1))])
    order_mark_paid(order_id=grown.pk)

    assert personal_data_expire(now=timezone.now() + datetime.timedelta(days=29)) == []
    [entry] = personal_data_expire(now=timezone.now() + datetime.timedelta(days=31))
    assert entry.counts["orders"] == 2
    assert list(Name.objects.filter(order=paid).values_list("date_of_birth", flat=True)) == [None, None]
    assert Name.objects.get(order=unpaid).date_of_birth is not None  # it may be started again, checked again
    assert Name.objects.get(order=grown).date_of_birth == datetime.date(1980, 5, 1)  # no age limit there
    # The name stays accepted: a correction of its spelling is not refused for the date it lost.
    name = Name.objects.filter(order=paid).first()
    corrected = name_correct(name_id=name.pk, data={"hebrew_name": "מנחם"})
    assert corrected.hebrew_name == "מנחם" and corrected.date_of_birth is None
    assert not Name.history.filter(order_id=paid.pk).exclude(date_of_birth=None).exists()


def test_finished_imports_lose_their_file_after_the_days_kept(
    client, campaigns, settings, django_capture_on_commit_callbacks
):
    from privacy.services import personal_data_expire
    from registrations.models import ImportStatus, NameImport
    from registrations.services import name_import_check, name_import_create

    from .conftest import make_user

    settings.IMPORT_FILES_KEPT_DAYS = 30
    shliach = make_user("retention-shliach", permissions=["accounts.register_names"])
    refused_file = "hebrew_name,parent_hebrew_name,gender\nמשה,מרים,x\n".encode()
    made = []
    for _ in range(2):
        name_import = name_import_create(
            user=shliach, campaign=campaigns["idf"], source_name="families.csv", content=refused_file
        )
        name_import_check(import_id=name_import.pk)
        made.append(NameImport.objects.get(pk=name_import.pk))
    old, recent = made
    assert old.status == recent.status == ImportStatus.REFUSED and old.preview
    NameImport.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=31))
    path, storage = old.file.name, old.file.storage
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once committed
        [entry] = personal_data_expire()
    assert entry.counts["name_imports"] == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.file.name, old.preview) == ("", []) and not storage.exists(path)
    assert recent.file and storage.exists(recent.file.name) and recent.preview
    # Its page still says what was refused, and why.
    client.force_login(shliach)
    page = client.get(f"/shliach/imports/{old.pk}/")
    assert page.status_code == 200 and "families.csv" in page.content.decode()


def test_the_expiry_command_says_what_it_did(held, settings):
    settings.PERSONAL_DATA_RETENTION_YEARS = 1
    Order.objects.filter(pk=held["paid"].pk).update(created_at=timezone.now() - datetime.timedelta(days=400))
    assert "orders 1" in run_command("expire_personal_data")
    assert "Nothing was due." in run_command("expire_personal_data")


def test_receipts_are_exported_and_kept_as_issued(campaigns, tmp_path, settings):
    import io
    import json

    from django.core.management import call_command

    from allocation.services import Buyer
    from payments.services import payment_record_offline
    from receipts.models import Receipt

    from .conftest import make_user
    from .test_receipts import EIN

    settings.STORAGES = {
        **settings.STORAGES,
        "receipts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    call_command("organisation_set", "chabad-us", "--name", "Chabad of the Valley", "--jurisdiction", "us",
                 "--tax-id", EIN, "--campaign", "sefardi", stdout=io.StringIO())  # fmt: skip
    order = make_order(campaigns["sefardi"], 1, buyer=Buyer(name=BUYER_NAME, email=ADDRESS))
    cashier = make_user("privacy-cashier", permissions=["payments.record_offline_payment"])
    payment_record_offline(order=order, reference="cash 1", recorded_by=cashier)
    receipt = Receipt.objects.get(order=order)

    run_command("export_personal_data", "--email", ADDRESS, "--output", str(tmp_path / "r.json"))
    [exported] = json.loads((tmp_path / "r.json").read_text())["receipts"]
    assert exported["number"] == receipt.display_number and exported["donor_name"] == BUYER_NAME
    assert exported["download_url"].endswith(f"/orders/{order.token}/receipt.pdf")

    said = run_command("erase_personal_data", "--email", ADDRESS)
    assert "receipts" not in said  # nothing of theirs erased
    # The tax record stays as issued, the donor's name on it; the order's own copy is erased.
    assert database_rows_containing(BUYER_NAME) == {"receipts_receipt.donor_name": 1}
    assert database_rows_containing(ADDRESS) == {}
    assert Receipt.objects.get(pk=receipt.pk).donor_name == BUYER_NAME


# --- Consent at import ---------------------------------------------------------------------------


@pytest.fixture
def registrar(db):
    from .conftest import make_user

    return make_user("consent-shliach", permissions=["accounts.register_names", "payments.record_offline_payment"])


def test_an_imports_confirmation_asks_the_consent_and_records_it(
    client, campaigns, registrar, notice_version, django_capture_on_commit_callbacks
):
    from registrations.models import ImportStatus, NameImport

    from .test_imports import HEADER, csv_bytes, rows

    client.force_login(registrar)
    pasted = csv_bytes(HEADER, rows(2), delimiter="\t").decode()
    with django_capture_on_commit_callbacks(execute=True):
        detail = client.post("/shliach/import/", {"campaign": campaigns["idf"].pk, "pasted": pasted}).url
    page = client.get(detail).content.decode()
    assert 'id="id_consent"' in page and "The people whose names I register" in page and 'href="/privacy/"' in page

    paid = {"payment_method": "offline", "payment_reference": "cash 3"}
    refused = client.post(detail, paid)
    assert refused.status_code == 200 and 'id="id_consent_error"' in refused.content.decode()
    assert NameImport.objects.get().status == ImportStatus.READY and not Order.objects.exists()

    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(detail, {**paid, "consent": "on"}).status_code == 302
    name_import = NameImport.objects.get()
    assert name_import.status == ImportStatus.IMPORTED
    order = name_import.order
    assert order.privacy_notice_version == "2031-04-05" and before <= order.consent_at <= timezone.now()
    assert order.consent_at == name_import.consent_given_at


def test_the_grids_submit_asks_the_consent_and_the_import_carries_it(
    client, campaigns, registrar, notice_version, django_capture_on_commit_callbacks
):
    from registrations.models import NameDraft, NameImport

    from .test_grid import ROWS, put_rows

    client.force_login(registrar)
    page = client.get("/shliach/grid/idf/").content.decode()
    assert re.search(r'id="grid-submit-form".*id="id_consent"', page, re.S)
    put_rows(client, ROWS)
    refused = client.post("/shliach/grid/idf/submit/", follow=True)
    assert (
        refused.redirect_chain[-1][0] == "/shliach/grid/idf/"
        and "agreed to the privacy notice" in refused.content.decode()
    )
    assert NameDraft.objects.filter(created_by=registrar).exists() and not NameImport.objects.exists()  # kept as typed

    with django_capture_on_commit_callbacks(execute=True):
        detail = client.post("/shliach/grid/idf/submit/", {"consent": "on"}).url
    name_import = NameImport.objects.get()
    assert name_import.consent_notice_version == "2031-04-05" and name_import.consent_given_at
    assert 'id="id_consent"' not in client.get(detail).content.decode()  # given with the rows: not asked again
    with django_capture_on_commit_callbacks(execute=True):
        client.post(detail, {"payment_method": "offline", "payment_reference": "cash 4"})
    order = NameImport.objects.get().order
    assert (order.consent_at, order.privacy_notice_version) == (name_import.consent_given_at, "2031-04-05")


def test_the_command_lines_import_records_no_consent(campaigns, registrar, tmp_path):
    from .test_imports import HEADER, csv_bytes, rows

    path = tmp_path / "names.csv"
    path.write_bytes(csv_bytes(HEADER, rows(1)))
    run_command("import_names", str(path), "--campaign", "idf", "--user", registrar.username, "--paid-offline", "r1")
    assert Order.objects.get().consent_at is None  # the operator's door: nobody there gave one


def test_the_order_admin_shows_the_consent_and_keeps_an_erased_order_erased(client, held):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("privacy-admin", "admin@example.org", "pw"))
    paid = held["paid"]
    page = client.get(f"/admin/allocation/order/{paid.pk}/change/").content.decode()
    assert paid.privacy_notice_version in page and 'name="buyer_email"' in page
    run_command("erase_personal_data", "--email", ADDRESS)
    response = client.get(f"/admin/allocation/order/{paid.pk}/change/")
    page = response.content.decode()
    assert response.status_code == 200 and 'name="buyer_email"' not in page  # read-only once erased
    assert "Personal data erased" in page


def test_the_system_check_refuses_a_notice_without_a_version(settings):
    from privacy.checks import privacy_settings_check

    assert privacy_settings_check(None) == []
    settings.PRIVACY_NOTICE_VERSION = " "
    assert [error.id for error in privacy_settings_check(None)] == ["privacy.E001"]
    settings.PRIVACY_NOTICE_VERSION, settings.PERSONAL_DATA_RETENTION_YEARS = "x" * 33, -1
    assert [error.id for error in privacy_settings_check(None)] == ["privacy.E002", "privacy.E003"]
