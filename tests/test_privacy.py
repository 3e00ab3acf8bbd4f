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
