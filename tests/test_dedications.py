"""Dedications per name (issue 19, point 1): a kind and a short text, through every door, and
on the certificate, the order page and the CSV."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from allocation.models import DedicationKind, Name
from allocation.services import name_clean, name_correct
from certificates.models import Certificate
from certificates.tasks import issue_order_certificates
from registrations.models import ImportStatus

from .conftest import token_client
from .factories import make_order, name_data
from .test_api import order_payload
from .test_buy_pages import buy_form
from .test_certificates import allocated_order, poppler_text, stored_pdf
from .test_imports import checked, csv_bytes, imported_offline, shliach  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_api_takes_a_dedication_and_gives_it_back(campaigns, trusted_shliach):
    client = token_client(trusted_shliach)
    names = [
        name_data(0, dedication={"kind": "refuah_shleimah", "text": "מכל המשפחה"}),
        name_data(1, deceased=True),  # a client that knows only deceased
        name_data(2),
    ]
    response = client.post("/api/v1/orders/", order_payload(names=names), format="json")
    assert response.status_code == 201, response.json()
    detail = client.get(f"/api/v1/orders/{response.json()['id']}/").json()
    assert [(name["dedication"], name["deceased"]) for name in detail["names"]] == [
        ({"kind": "refuah_shleimah", "text": "מכל המשפחה"}, False),
        ({"kind": "in_memory", "text": ""}, True),
        ({"kind": "none", "text": ""}, False),
    ]


def test_the_api_refuses_an_unknown_kind_and_a_bidi_override(campaigns, trusted_shliach):
    client = token_client(trusted_shliach)
    for dedication, field in (({"kind": "in_honor_of"}, "kind"), ({"kind": "success", "text": "a\u202eb"}, "text")):
        response = client.post(
            "/api/v1/orders/", order_payload(names=[name_data(0, dedication=dedication)]), format="json"
        )
        assert response.status_code == 400
        assert field in response.json()["names"]["0"]["dedication"], response.json()
    assert not Name.objects.exists()


def test_the_schema_lists_the_kinds(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    enums = [component.get("enum") for component in schema["components"]["schemas"].values()]
    assert sorted(DedicationKind.values) in [sorted(enum) for enum in enums if enum]
    assert "dedication" in schema["components"]["schemas"]["NameInput"]["properties"]


def test_deceased_and_in_memory_are_one_fact(campaigns):
    idf = campaigns["idf"]
    assert name_clean(data=name_data(0, dedication_kind="in_memory"), campaign=idf)["deceased"] is True
    assert name_clean(data=name_data(0, deceased=True), campaign=idf)["dedication_kind"] == "in_memory"
    with pytest.raises(ValidationError) as refused:
        name_clean(data=name_data(0, deceased=True, dedication_kind="wedding"), campaign=idf)
    assert "dedication_kind" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        name_clean(data=name_data(0, dedication_text="x" * 201), campaign=idf)
    assert "dedication_text" in refused.value.message_dict
    # A correction of one follows with the other.
    order = make_order(idf, names=[name_data(0, deceased=True)])
    name = order.names.get()
    name_correct(name_id=name.pk, data={"deceased": False})
    name.refresh_from_db()
    assert (name.deceased, name.dedication_kind) == (False, "none")
    name_correct(name_id=name.pk, data={"dedication_kind": "in_memory"})
    name.refresh_from_db()
    assert (name.deceased, name.dedication_kind) == (True, "in_memory")


def test_the_database_refuses_an_unknown_kind_and_a_disagreeing_deceased(campaigns):
    name = make_order(campaigns["idf"], 1).names.get()
    for values in ({"dedication_kind": "bribe"}, {"deceased": True}, {"dedication_kind": "in_memory"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Name.objects.filter(pk=name.pk).update(**values)


def test_an_import_reads_the_two_columns_and_names_a_bad_row(campaigns, shliach):  # noqa: F811
    header = ["hebrew_name", "parent_hebrew_name", "gender", "dedication_kind", "dedication_text"]
    data = [
        ["משה", "שרה", "m", "in_honour", "לכבוד יום הולדתו"],
        ["רחל", "לאה", "f", "לרפואה שלמה", ""],
        ["דוד", "רבקה", "m", "", ""],
    ]
    imported_offline(shliach, campaigns["idf"], csv_bytes(header, data))
    assert list(Name.objects.order_by("id").values_list("dedication_kind", "dedication_text")) == [
        ("in_honour", "לכבוד יום הולדתו"),
        ("refuah_shleimah", ""),
        ("none", ""),
    ]
    refused = checked(
        shliach,
        campaigns["idf"],
        csv_bytes(header, [["אהרן", "יוכבד", "m", "", ""], ["מרים", "יוכבד", "f", "party", ""]]),
    )
    assert refused.status == ImportStatus.REFUSED
    assert [(p["row"], p["column"]) for p in refused.problems] == [(3, "dedication_kind")]
    assert "in_memory" in refused.problems[0]["message"]  # the kinds it takes are named


def test_the_certificate_the_order_page_and_the_csv_show_the_dedication(client, campaigns, default_edition):
    names = [name_data(0, dedication_kind="refuah_shleimah", dedication_text="<b>מכל המשפחה</b>")]
    order = allocated_order(campaigns["idf"], names=names)
    issue_order_certificates(order.pk)
    # Read by poppler: pypdf drops this block's text (it reads the name and the code above it).
    text = poppler_text(stored_pdf(Certificate.objects.get(name__order=order)))
    assert "לרפואה שלמה" in text and "מכל המשפחה" in text and "<b>" in text
    assert "For a complete recovery (refuah shleimah)" in text
    page = client.get(f"/orders/{order.token}/").content.decode()
    assert "לרפואה שלמה" in page and "&lt;b&gt;מכל המשפחה&lt;/b&gt;" in page and "<b>מכל" not in page
    csv_text = b"".join(client.get(f"/orders/{order.token}/letters.csv").streaming_content).decode()
    assert "refuah_shleimah,לרפואה שלמה,<b>מכל המשפחה</b>" in csv_text


def test_the_buy_page_takes_a_dedication_and_listing(client, campaigns):
    data = buy_form(
        **{
            "names-0-dedication_kind": "bar_mitzvah",
            "names-0-dedication_text": "מזל טוב",
            "names-0-listed": "on",
            "names-1-dedication_kind": "none",  # the empty row as the page posts it: still empty
        }
    )
    assert client.post("/buy/idf/", data).status_code == 302
    [name] = Name.objects.all()
    assert (name.dedication_kind, name.dedication_text, name.listed, name.deceased) == (
        "bar_mitzvah",
        "מזל טוב",
        True,
        False,
    )
