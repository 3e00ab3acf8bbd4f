"""The data-entry grid: a draft saved as the shliach types, sent as one CSV into the import."""

import csv
import io
import json
import re

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.urls import reverse
from playwright.sync_api import expect

from registrations.grid_services import GRID_FIELDS, grid_rows_csv
from registrations.models import NameDraft, NameImport

from .conftest import make_user

ROWS = [
    {
        "hebrew_name": "מנחם מענדל",
        "gender": "m",
        "parent_hebrew_name": "חיה מושקא",
        "city": "Brooklyn",
        "country": "US",
    },
    {"hebrew_name": "שרה רבקה", "gender": "f", "parent_hebrew_name": "יוסף", "deceased": "yes"},
    {"gender": "m"},  # an empty row: skipped when imported
    {
        "hebrew_name": "לוי יצחק",
        "gender": "m",
        "parent_hebrew_name": "חנה",
        "english_name": "Levi",
        "family_name": "Katz",
    },
]


def shliach_user(username="grid-shliach"):
    # The shliach group carries this permission (accounts migration 0003); a transactional
    # test's flush empties the group, so the permission is given directly too.
    user = make_user(username, permissions=["accounts.register_names"])
    user.groups.add(Group.objects.get_or_create(name="shliach")[0])
    return user


@pytest.fixture
def shliach(db):
    return shliach_user()


@pytest.fixture
def shliach_client(client, shliach):
    client.force_login(shliach)
    return client


def draft_url(slug="idf"):
    return reverse("registrations:grid-draft", args=[slug])


def put_rows(client, rows, slug="idf"):
    return client.put(draft_url(slug), data=json.dumps({"rows": rows}), content_type="application/json")


def file_rows(name_import):
    with name_import.file.open("rb") as handle:
        return list(csv.DictReader(io.StringIO(handle.read().decode("utf-8"))))


def test_the_draft_is_saved_and_read_back(shliach_client, shliach, campaigns):
    assert shliach_client.get(draft_url()).json() == {"rows": [], "saved_at": None}

    response = put_rows(shliach_client, ROWS)
    assert response.status_code == 200, response.content
    assert shliach_client.get(draft_url()).json()["rows"] == ROWS

    # POST replaces it too, and the draft is one per shliach and campaign.
    response = shliach_client.post(draft_url(), data=json.dumps({"rows": ROWS[:1]}), content_type="application/json")
    assert response.status_code == 200
    assert shliach_client.get(draft_url()).json()["rows"] == ROWS[:1]
    assert NameDraft.objects.filter(created_by=shliach).count() == 1
    # Empty cells are not kept.
    put_rows(shliach_client, [{"hebrew_name": "שרה", "city": ""}])
    assert NameDraft.objects.get(created_by=shliach).rows == [{"hebrew_name": "שרה"}]

    # The page opens with the rows in it.
    page = shliach_client.get(reverse("registrations:grid", args=["idf"]))
    assert page.status_code == 200
    assert '<script id="grid-draft-rows" type="application/json">[{"hebrew_name": "\\u05e9\\u05e8\\u05d4"}]' in (
        page.content.decode()
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ('["no rows key"]', "rows"),
        ('{"rows": {"0": {}}}', "must be a list"),
        (json.dumps({"rows": [{}] * 5001}), "at most 5000 rows"),
        (json.dumps({"rows": ["a string"]}), "Row 1 is not a row"),
        (json.dumps({"rows": [{}, {"password": "x"}]}), "Row 2 has unknown columns: password"),
        (json.dumps({"rows": [{"deceased": True}]}), "must be text"),
        (json.dumps({"rows": [{"hebrew_name": "א" * 201}]}), "longer than 200 characters"),
    ],
)
def test_a_draft_of_the_wrong_shape_is_refused_with_a_message(shliach_client, shliach, campaigns, body, message):
    put_rows(shliach_client, ROWS[:1])
    response = shliach_client.put(draft_url(), data=body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert NameDraft.objects.get(created_by=shliach).rows == ROWS[:1]  # the draft kept is untouched


def test_the_largest_grid_is_accepted(shliach_client, shliach, campaigns):
    # Every cell full, as a browser sends it (JSON.stringify leaves Hebrew unescaped).
    rows = [{field: "א" * 200 for field in GRID_FIELDS}] * 5000
    body = json.dumps({"rows": rows}, ensure_ascii=False)
    assert shliach_client.put(draft_url(), data=body, content_type="application/json").status_code == 200
    assert len(NameDraft.objects.get(created_by=shliach).rows) == 5000


def test_submit_sends_the_rows_as_csv_to_the_import_and_clears_the_draft(shliach_client, shliach, campaigns):
    put_rows(shliach_client, ROWS)
    response = shliach_client.post(reverse("registrations:grid-submit", args=["idf"]), {"consent": "on"})

    name_import = NameImport.objects.get(created_by=shliach)
    assert response.status_code == 302
    assert response["Location"] == reverse("registrations:import-detail", args=[name_import.pk])
    assert name_import.campaign == campaigns["idf"]
    assert re.fullmatch(r"Grid \d{4}-\d\d-\d\d \d\d:\d\d", name_import.source_name)
    with name_import.file.open("rb") as handle:
        assert handle.read() == grid_rows_csv(rows=ROWS)
    stored = file_rows(name_import)
    assert list(stored[0]) == list(GRID_FIELDS)
    assert [row["hebrew_name"] for row in stored] == ["מנחם מענדל", "שרה רבקה", "לוי יצחק"]
    assert stored[1]["deceased"] == "yes" and stored[1]["gender"] == "f" and stored[2]["family_name"] == "Katz"
    assert not NameDraft.objects.filter(created_by=shliach).exists()


def test_a_dedication_and_the_listing_go_from_the_grid_into_the_names(client, campaigns):
    from allocation.models import Name
    from registrations.services import name_import_check, name_import_confirm, name_import_run

    user = make_user("grid-payer", permissions=["accounts.register_names", "payments.record_offline_payment"])
    client.force_login(user)
    rows = [
        {
            "hebrew_name": "מנחם מענדל",
            "gender": "m",
            "parent_hebrew_name": "חיה מושקא",
            "dedication_kind": "refuah_shleimah",
            "dedication_text": "לרפואה שלמה וקרובה",
            "listed": "yes",
        },
        {"hebrew_name": "שרה רבקה", "gender": "f", "parent_hebrew_name": "יוסף", "deceased": "yes"},
        {"hebrew_name": "לוי יצחק", "gender": "m", "parent_hebrew_name": "חנה", "dedication_kind": "in_memory"},
        # Neither a chosen kind nor a tick makes a row someone typed.
        {"gender": "m", "dedication_kind": "success", "listed": "yes"},
    ]
    assert put_rows(client, rows).status_code == 200
    assert client.get(draft_url()).json()["rows"] == rows  # kept and given back as typed
    page = client.get(reverse("registrations:grid", args=["idf"])).content.decode()
    assert 'data-field="dedication_kind"' in page and 'data-field="listed"' in page
    assert (
        '<option value="">No dedication</option>' in page and '<option value="in_memory">In memory of</option>' in page
    )
    # A campaign for the departed writes every name "in memory of": no tick, no kind; the text stays.
    departed = client.get(reverse("registrations:grid", args=["world-of-truth"])).content.decode()
    assert 'data-field="dedication_kind"' not in departed and 'data-field="dedication_text"' in departed

    client.post(reverse("registrations:grid-submit", args=["idf"]), {"consent": "on"})
    name_import = name_import_check(import_id=NameImport.objects.get(created_by=user).pk)
    assert name_import.status == "ready", name_import.problems
    assert name_import.row_count == 3
    name_import_confirm(import_id=name_import.pk, user=user, payment_method="offline", payment_reference="cash 7")
    name_import_run(import_id=name_import.pk)
    names = {name.hebrew_name: name for name in Name.objects.filter(order__campaign=campaigns["idf"])}
    values = {
        hebrew: (name.dedication_kind, name.dedication_text, name.deceased, name.listed)
        for hebrew, name in names.items()
    }
    assert values == {
        "מנחם מענדל": ("refuah_shleimah", "לרפואה שלמה וקרובה", False, True),
        "שרה רבקה": ("in_memory", "", True, False),
        "לוי יצחק": ("in_memory", "", True, False),
    }


def test_in_memory_of_with_another_dedication_is_a_problem_of_its_row(shliach_client, shliach, campaigns):
    rows = [
        ROWS[0],
        {"hebrew_name": "שרה רבקה", "gender": "f", "parent_hebrew_name": "יוסף", "deceased": "yes",
         "dedication_kind": "wedding"},
    ]  # fmt: skip
    put_rows(shliach_client, rows)
    shliach_client.post(reverse("registrations:grid-submit", args=["idf"]), {"consent": "on"})
    from registrations.services import name_import_check

    name_import = name_import_check(import_id=NameImport.objects.get(created_by=shliach).pk)
    assert name_import.status == "refused"
    [problem] = name_import.problems
    assert (problem["row"], problem["column"]) == (3, "dedication_kind")  # row 1 is the header
    assert "in memory of" in problem["message"]
    page = shliach_client.get(reverse("registrations:import-detail", args=[name_import.pk])).content.decode()
    assert "dedication_kind" in page and "in memory of" in page


def test_an_empty_grid_is_sent_back_with_a_message(shliach_client, shliach, campaigns):
    put_rows(shliach_client, [{"gender": "m", "deceased": "yes"}, {"city": "  "}])
    url = reverse("registrations:grid-submit", args=["idf"])
    response = shliach_client.post(url, {"consent": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("registrations:grid", args=["idf"])
    assert "The grid is empty" in response.content.decode()
    assert not NameImport.objects.exists()


def test_only_shluchim_and_staff_use_the_grid(client, campaigns):
    grid_url = reverse("registrations:grid", args=["idf"])
    submit_url = reverse("registrations:grid-submit", args=["idf"])
    assert client.get(grid_url).status_code == 302  # to sign in
    assert client.get(draft_url()).status_code == 401

    client.force_login(make_user("buyer"))
    assert client.get(grid_url).status_code == 403
    assert client.get(draft_url()).status_code == 403
    assert put_rows(client, ROWS).status_code == 403
    assert client.post(submit_url).status_code == 403
    assert not NameDraft.objects.exists()

    client.force_login(make_user("boss", is_staff=True))
    assert client.get(grid_url).status_code == 200
    assert client.get(reverse("registrations:grid", args=["no-such-campaign"])).status_code == 404


def test_the_date_of_birth_column_is_there_only_where_the_campaign_asks(shliach_client, campaigns):
    children = shliach_client.get(reverse("registrations:grid", args=["children"])).content.decode()
    adults = shliach_client.get(reverse("registrations:grid", args=["idf"])).content.decode()
    assert 'data-field="date_of_birth"' in children
    assert 'data-field="date_of_birth"' not in adults


# --- In a browser ------------------------------------------------------------------------------


def _sign_in(page, live_server, user):  # noqa: F811
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_type_three_names_with_the_keyboard_reload_and_import(page, live_server, campaigns):  # noqa: F811
    user = shliach_user()
    _sign_in(page, live_server, user)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}{reverse('registrations:grid', args=['idf'])}")
    status = page.locator("#grid-status")

    first = page.get_by_label("Row 1: Hebrew name", exact=True)
    assert first.evaluate("element => element === document.activeElement")  # ready to type
    keyboard = page.keyboard
    # Row 1: Hebrew name, ben (the default), mother, family name; Enter for the next row.
    keyboard.type("מנחם מענדל")
    keyboard.press("Tab")
    keyboard.press("Tab")
    keyboard.type("חיה מושקא")
    keyboard.press("Tab")
    keyboard.type("Cohen")
    keyboard.press("Enter")
    # Row 2: bas (F), in memory of (Space), father.
    keyboard.type("שרה רבקה")
    keyboard.press("Tab")
    keyboard.press("f")
    keyboard.press("Tab")
    keyboard.type("יוסף")
    keyboard.press("Tab")
    keyboard.press("Tab")
    keyboard.press("Tab")
    keyboard.press("Space")
    keyboard.press("Enter")
    # Row 3, with a Latin letter in the Hebrew name first: hinted, then corrected.
    keyboard.type("לויx")
    assert "grid-hint" in page.get_by_label("Row 3: Hebrew name", exact=True).get_attribute("class")
    keyboard.press("Backspace")
    keyboard.type(" יצחק")
    assert "grid-hint" not in page.get_by_label("Row 3: Hebrew name", exact=True).get_attribute("class")
    keyboard.press("Tab")
    keyboard.press("Tab")
    keyboard.type("חנה")
    # Row 1's dedication, its words, and listed (Space ticks it).
    page.get_by_label("Row 1: Dedication", exact=True).select_option("in_honour")
    page.get_by_label("Row 1: Dedication text", exact=True).fill("לכבוד הרב")
    page.get_by_label("Row 1: Listed publicly", exact=True).focus()
    keyboard.press("Space")
    # Row 2 was ticked "in memory of": its dedication followed; another one is hinted at once.
    row_2_kind = page.get_by_label("Row 2: Dedication", exact=True)
    assert row_2_kind.input_value() == "in_memory"
    row_2_kind.select_option("wedding")
    assert "grid-hint" in row_2_kind.get_attribute("class")
    row_2_kind.select_option("in_memory")
    assert "grid-hint" not in row_2_kind.get_attribute("class")
    expect(status).to_have_text("Saved")

    page.reload()
    assert page.locator("#grid-rows tr").count() == 3
    assert page.get_by_label("Row 1: Hebrew name", exact=True).input_value() == "מנחם מענדל"
    assert page.get_by_label("Row 1: Family name", exact=True).input_value() == "Cohen"
    assert page.get_by_label("Row 2: ben/bas", exact=True).input_value() == "f"
    assert page.get_by_label("Row 2: In memory of", exact=True).is_checked()
    assert page.get_by_label("Row 1: Dedication", exact=True).input_value() == "in_honour"
    assert page.get_by_label("Row 1: Dedication text", exact=True).input_value() == "לכבוד הרב"
    assert page.get_by_label("Row 1: Listed publicly", exact=True).is_checked()
    assert not page.get_by_label("Row 3: Listed publicly", exact=True).is_checked()
    assert page.get_by_label("Row 3: Dedication", exact=True).input_value() == ""
    assert page.get_by_label("Row 3: Hebrew name", exact=True).input_value() == "לוי יצחק"
    assert page.get_by_label("Row 3: Parent's Hebrew name", exact=True).input_value() == "חנה"
    assert page.get_by_label("Row 1: Hebrew name", exact=True).get_attribute("dir") == "rtl"
    assert page.get_by_label("Row 1: English name", exact=True).get_attribute("dir") == "ltr"

    # Up and down a column; Enter in a row that is not the last goes to the next row, adding none.
    page.keyboard.press("ArrowUp")
    assert page.get_by_label("Row 2: Hebrew name", exact=True).evaluate("element => element === document.activeElement")
    page.keyboard.press("Enter")
    assert page.get_by_label("Row 3: Hebrew name", exact=True).evaluate("element => element === document.activeElement")
    assert page.locator("#grid-rows tr").count() == 3
    page.screenshot(path="/tmp/unitysefer-grid-desktop.png", full_page=True)
    page.check("#id_consent")  # the people registered agreed to the privacy notice
    page.get_by_role("button", name="Check and import").click()
    page.wait_for_url(re.compile(r"/shliach/imports/\d+/$"))
    name_import = NameImport.objects.get(created_by=user)
    assert page.url.endswith(f"/shliach/imports/{name_import.pk}/")
    stored = file_rows(name_import)
    assert [(row["hebrew_name"], row["gender"], row["parent_hebrew_name"], row["deceased"]) for row in stored] == [
        ("מנחם מענדל", "m", "חיה מושקא", ""),
        ("שרה רבקה", "f", "יוסף", "yes"),
        ("לוי יצחק", "m", "חנה", ""),
    ]
    assert [(row["dedication_kind"], row["dedication_text"], row["listed"]) for row in stored] == [
        ("in_honour", "לכבוד הרב", "yes"),
        ("in_memory", "", ""),
        ("", "", ""),
    ]
    assert not NameDraft.objects.filter(created_by=user).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_is_shown_and_saving_resumes(page, live_server, campaigns):  # noqa: F811
    user = shliach_user()
    _sign_in(page, live_server, user)
    page.goto(f"{live_server.url}{reverse('registrations:grid', args=['children'])}")
    page.context.set_offline(True)
    page.keyboard.type("שרה")
    for _ in range(6):  # to the date of birth
        page.keyboard.press("Tab")
    page.keyboard.type("20180304")
    page.keyboard.press("Tab")  # leaving the cell writes the date out and saves at once
    expect(page.locator("#grid-status")).to_have_text("Not saved — retrying")
    assert page.get_by_label("Row 1: Date of birth", exact=True).input_value() == "2018-03-04"

    page.context.set_offline(False)
    expect(page.locator("#grid-status")).to_have_text("Saved")
    assert NameDraft.objects.get(created_by=user).rows == [
        {"hebrew_name": "שרה", "gender": "m", "date_of_birth": "2018-03-04"}
    ]
    page.screenshot(path="/tmp/unitysefer-grid.png", full_page=True)
