"""Bulk registration: spreadsheets in, all or nothing, every problem named by row and column."""

import csv
import datetime
import io
import threading

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from allocation.models import Letter, Name, Order
from registrations.models import ImportStatus, NameImport
from registrations.services import (
    name_import_check,
    name_import_confirm,
    name_import_create,
    name_import_run,
    name_import_start,
)

from .conftest import make_user

HEADER = ["hebrew_name", "parent_hebrew_name", "gender", "english_name", "family_name", "deceased", "city", "country"]
FIRST_NAMES = ["מנחם מענדל", "שרה", "יוסף יצחק", "חיה מושקא", "לוי יצחק", "רבקה", "שניאור זלמן", "דבורה לאה"]
PARENTS = ["חנה", "רחל", "לאה", "מרים"]


def rows(count, start=0):
    """`count` distinct, valid rows (the family name tells them apart)."""
    for index in range(start, start + count):
        yield [
            FIRST_NAMES[index % len(FIRST_NAMES)],
            PARENTS[index % len(PARENTS)],
            "m"
            if FIRST_NAMES[index % len(FIRST_NAMES)] in ("מנחם מענדל", "יוסף יצחק", "לוי יצחק", "שניאור זלמן")
            else "f",
            f"Person {index}",
            f"Family{index}",
            "no",
            "Brooklyn",
            "us",
        ]


def csv_bytes(header, data, encoding="utf-8", delimiter=","):
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(data)
    return text.getvalue().encode(encoding)


def xlsx_bytes(header, data):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in data:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.fixture
def shliach(db):
    return make_user("shliach1", permissions=["accounts.register_names", "payments.record_offline_payment"])


@pytest.fixture
def other_shliach(db):
    return make_user("shliach2", permissions=["accounts.register_names", "payments.record_offline_payment"])


def checked(user, campaign, content, source_name="names.csv"):
    name_import = name_import_create(user=user, campaign=campaign, source_name=source_name, content=content)
    return name_import_check(import_id=name_import.pk)


def imported_offline(user, campaign, content, source_name="names.csv"):
    name_import = checked(user, campaign, content, source_name)
    assert name_import.status == ImportStatus.READY, name_import.problems
    name_import_confirm(import_id=name_import.pk, user=user, payment_method="offline", payment_reference="cash 7")
    return name_import_run(import_id=name_import.pk)


@pytest.mark.parametrize(
    "encoding, source_name, make",
    [
        ("utf-8", "names.csv", lambda data: csv_bytes(HEADER, data)),
        ("utf-8-sig", "names.csv", lambda data: csv_bytes(HEADER, data, "utf-8-sig")),
        ("cp1255", "names.csv", lambda data: csv_bytes(HEADER, data, "cp1255")),
        ("xlsx", "names.xlsx", lambda data: xlsx_bytes(HEADER, data)),
        ("pasted", "pasted.csv", lambda data: csv_bytes(HEADER, data, delimiter="\t")),
    ],
)
def test_a_file_round_trips_into_paid_names_with_letters(campaigns, shliach, encoding, source_name, make):
    data = list(rows(25))
    name_import = imported_offline(shliach, campaigns["tomchei-temimim"], make(data), source_name)
    assert name_import.status == ImportStatus.IMPORTED
    order = Order.objects.get(pk=name_import.order_id)
    assert (order.status, order.created_by, order.channel, order.amount) == ("paid", shliach, "shliach", 25 * 18)
    names = list(order.names.order_by("id"))
    assert [(n.hebrew_name, n.parent_hebrew_name, n.gender, n.english_name, n.family_name) for n in names] == [
        (row[0], row[1], row[2], row[3], row[4]) for row in data
    ]
    assert names[0].country == "US" and names[0].deceased is False
    positions = list(Letter.objects.filter(name__order=order).order_by("name_id").values_list("position", flat=True))
    assert positions == list(range(1, 26))


def test_the_check_keeps_nothing_and_shows_a_preview(campaigns, shliach):
    name_import = checked(shliach, campaigns["idf"], csv_bytes(HEADER, rows(30)))
    assert (name_import.status, name_import.row_count, name_import.problem_count) == ("ready", 30, 0)
    assert len(name_import.preview) == 20 and name_import.preview[0]["row"] == 2
    assert name_import.preview[0]["hebrew_name"] == "מנחם מענדל"
    assert not Order.objects.exists() and not Name.objects.exists()


def test_hebrew_headers_and_spreadsheet_words(campaigns, shliach):
    header = ["שם", "שם האם", "בן/בת", "שם משפחה", "נפטר", "תאריך לידה"]
    data = [["משה", "שרה", "בן", "כהן", "לא", ""], ["רחל", "לאה", "בת", "לוי", "כן", ""]]
    name_import = imported_offline(shliach, campaigns["sefardi"], csv_bytes(header, data))
    names = list(Name.objects.filter(order_id=name_import.order_id).order_by("id"))
    assert [(n.hebrew_name, n.gender, n.family_name, n.deceased) for n in names] == [
        ("משה", "m", "כהן", False),
        ("רחל", "f", "לוי", True),
    ]


def test_one_bad_row_among_ten_thousand_imports_nothing_and_is_named(campaigns, shliach):
    data = list(rows(10_000))
    data[6120][1] = "Miriam"  # a Latin parent's name, in spreadsheet row 6122
    data[8000][2] = "x"  # no such gender, row 8002
    name_import = checked(shliach, campaigns["idf"], csv_bytes(HEADER, data))
    assert name_import.status == ImportStatus.REFUSED
    assert name_import.row_count == 10_000 and name_import.problem_count == 2
    assert [(p["row"], p["column"]) for p in name_import.problems] == [
        (6122, "parent_hebrew_name"),
        (8002, "gender"),
    ]
    assert "Hebrew" in name_import.problems[0]["message"]
    assert not Order.objects.exists() and not Name.objects.exists() and not Letter.objects.exists()


def test_a_missing_column_refuses_the_file(campaigns, shliach):
    name_import = checked(shliach, campaigns["idf"], csv_bytes(["hebrew_name", "gender"], [["משה", "m"]]))
    assert name_import.status == ImportStatus.REFUSED
    assert "parent_hebrew_name" in name_import.problems[0]["message"]


def test_duplicates_in_the_file_and_of_earlier_names_are_problems(campaigns, shliach, other_shliach):
    campaign = campaigns["beis-rivkah"]
    data = list(rows(5))
    imported_offline(shliach, campaign, csv_bytes(HEADER, data))

    again = list(rows(3, start=5)) + [data[1]]  # row 5 repeats a name imported before
    again.append(again[0])  # row 6 repeats row 2
    name_import = checked(shliach, campaign, csv_bytes(HEADER, again))
    assert name_import.status == ImportStatus.REFUSED
    messages = {p["row"]: p["message"] for p in name_import.problems}
    assert set(messages) == {5, 6}
    assert "already registered" in messages[5] and "row 2" in messages[6]

    # Another shliach, or another campaign, may register the same people.
    assert checked(other_shliach, campaign, csv_bytes(HEADER, data)).status == ImportStatus.READY
    assert checked(shliach, campaigns["idf"], csv_bytes(HEADER, data)).status == ImportStatus.READY


def test_the_same_file_confirmed_twice_imports_once(campaigns, shliach):
    content = csv_bytes(HEADER, rows(4))
    first = checked(shliach, campaigns["idf"], content)
    second = checked(shliach, campaigns["idf"], content)
    for name_import in (first, second):
        name_import_confirm(import_id=name_import.pk, user=shliach, payment_method="offline", payment_reference="r")
    assert name_import_run(import_id=first.pk).status == ImportStatus.IMPORTED
    assert name_import_run(import_id=first.pk).status == ImportStatus.IMPORTED  # again: nothing more
    refused = name_import_run(import_id=second.pk)
    assert refused.status == ImportStatus.REFUSED and refused.problem_count == 4
    assert Name.objects.count() == 4 and Letter.objects.count() == 4


def test_a_childrens_campaign_checks_each_date_of_birth(campaigns, shliach):
    today = datetime.date.today()
    header = ["hebrew_name", "parent_hebrew_name", "gender", "date_of_birth"]
    data = [
        ["משה", "שרה", "m", (today - datetime.timedelta(days=365 * 5)).isoformat()],
        ["רחל", "לאה", "f", (today - datetime.timedelta(days=365 * 15)).isoformat()],
        ["דוד", "חנה", "m", ""],
    ]
    name_import = checked(shliach, campaigns["children"], csv_bytes(header, data))
    assert name_import.status == ImportStatus.REFUSED
    assert [(p["row"], p["column"]) for p in name_import.problems] == [(3, "date_of_birth"), (4, "date_of_birth")]
    assert "girls under 12" in name_import.problems[0]["message"]


def test_without_the_offline_permission_the_order_waits(campaigns):
    plain = make_user("plain-shliach", permissions=["accounts.register_names"])
    name_import = checked(plain, campaigns["idf"], csv_bytes(HEADER, rows(2)))
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        name_import_confirm(import_id=name_import.pk, user=plain, payment_method="offline", payment_reference="r")
    name_import_confirm(import_id=name_import.pk, user=plain, payment_method="approval")
    name_import = name_import_run(import_id=name_import.pk)
    order = Order.objects.get(pk=name_import.order_id)
    assert order.status == "pending" and not Letter.objects.exists()


def test_an_offline_limit_stops_a_large_import(campaigns, shliach):
    shliach.profile.offline_payment_limit = 100
    shliach.profile.save()
    name_import = checked(shliach, campaigns["idf"], csv_bytes(HEADER, rows(10)))  # 180 ILS
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="limit"):
        name_import_confirm(import_id=name_import.pk, user=shliach, payment_method="offline", payment_reference="r")


def test_import_names_command(campaigns, shliach, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(HEADER, rows(12), "cp1255"))
    call_command("import_names", str(good), campaign="idf", user="shliach1", paid_offline="receipt 9")
    out = capsys.readouterr().out
    assert "Imported 12 names" in out and "paid" in out
    assert Letter.objects.count() == 12

    data = list(rows(5, start=100))
    data[3][0] = "<b>Moshe</b>"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(HEADER, data))
    with pytest.raises(CommandError, match="Rows: 5"):
        call_command("import_names", str(bad), campaign="idf", user="shliach1")
    assert "row 5 hebrew_name" in capsys.readouterr().err
    assert Name.objects.count() == 12


def test_the_pages_upload_check_confirm_and_import(campaigns, shliach, client, django_capture_on_commit_callbacks):
    client.force_login(shliach)
    assert client.get("/shliach/import/").status_code == 200
    pasted = csv_bytes(HEADER, rows(3), delimiter="\t").decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/shliach/import/", {"campaign": campaigns["idf"].pk, "pasted": pasted})
    assert response.status_code == 302
    name_import = NameImport.objects.get()
    page = client.get(response.url).content.decode()
    assert "3 names are ready to import" in page and "מנחם מענדל" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            response.url, {"payment_method": "offline", "payment_reference": "cash", "consent": "on"}
        )
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "3 names were imported" in page
    name_import.refresh_from_db()
    assert name_import.status == ImportStatus.IMPORTED and Letter.objects.count() == 3
    assert client.get(f"/shliach/imports/{name_import.pk}/status/").json()["status"] == "imported"


@pytest.mark.django_db(transaction=True)
def test_the_progress_bar_moves_while_the_import_runs(campaigns, shliach, client):
    from registrations.services import PROGRESS_EVERY

    count = 8 * PROGRESS_EVERY
    name_import = checked(shliach, campaigns["idf"], csv_bytes(HEADER, rows(count)))  # read to its end
    assert name_import.status == ImportStatus.READY and name_import.row_count == count
    # Confirmed as name_import_confirm does, without queueing the worker: this test is the worker.
    NameImport.objects.filter(pk=name_import.pk).update(
        status=ImportStatus.IMPORTING, payment_method="offline", payment_reference="cash"
    )
    client.force_login(shliach)
    status_url = f"/shliach/imports/{name_import.pk}/status/"
    page = client.get(f"/shliach/imports/{name_import.pk}/").content.decode()
    # The import starts from 0, not from where the check ended.
    assert f'data-status-url="{status_url}"' in page
    assert f'aria-valuemax="{count}" aria-valuenow="0"' in page and 'data-width="0"' in page

    running = threading.Thread(target=name_import_run, kwargs={"import_id": name_import.pk})
    running.start()  # in its own connection, as a worker
    seen = []
    try:
        while True:  # as the page's script polls, only faster
            status = client.get(status_url).json()
            seen.append((status["status"], status["rows_done"]))
            if status["status"] != "importing":
                break
    finally:
        running.join(timeout=120)
    done = [rows_done for state, rows_done in seen if state == "importing"]
    assert done[0] == 0 and done == sorted(done), seen  # from nothing, never backwards
    assert any(0 < rows_done < count for rows_done in done), seen  # seen part-way
    assert seen[-1] == ("imported", count) and Letter.objects.count() == count


def test_a_file_imported_from_the_command_line_shows_an_indeterminate_bar(campaigns, shliach, client):
    # No check before it, so no row count: no value the bar could be measured against.
    name_import = name_import_create(
        user=shliach, campaign=campaigns["idf"], source_name="names.csv", content=csv_bytes(HEADER, rows(3)),
        payment_method="offline", payment_reference="cash",
    )  # fmt: skip
    assert name_import.status == ImportStatus.IMPORTING and not name_import.row_count
    client.force_login(shliach)
    page = client.get(f"/shliach/imports/{name_import.pk}/").content.decode()
    assert 'role="progressbar"' in page and "aria-valuenow" not in page and "aria-valuemax" not in page


def test_a_file_with_problems_shows_them_on_the_page(campaigns, shliach, client, django_capture_on_commit_callbacks):
    client.force_login(shliach)
    data = list(rows(3))
    data[1][0] = ""
    upload = io.BytesIO(csv_bytes(HEADER, data))
    upload.name = "names.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/shliach/import/", {"campaign": campaigns["idf"].pk, "file": upload})
    page = client.get(response.url).content.decode()
    assert "One problem: nothing was imported" in page
    assert "<td>3</td><td><code>hebrew_name</code></td>" in page


def test_imports_belong_to_their_shliach(campaigns, shliach, other_shliach, client):
    name_import = name_import_start(
        user=shliach, campaign=campaigns["idf"], source_name="n.csv", content=csv_bytes(HEADER, rows(1))
    )
    client.force_login(other_shliach)
    assert client.get(f"/shliach/imports/{name_import.pk}/").status_code == 404
    assert client.get(f"/shliach/imports/{name_import.pk}/status/").status_code == 404
    client.force_login(make_user("a-buyer"))
    assert client.get("/shliach/import/").status_code == 403
    client.logout()
    assert client.get("/shliach/import/").status_code == 302  # to sign in


def test_staff_approve_an_order_waiting_for_approval_in_the_admin(campaigns, client, staff_user):
    plain = make_user("waiting-shliach", permissions=["accounts.register_names"])
    name_import = checked(plain, campaigns["idf"], csv_bytes(HEADER, rows(250)))
    name_import_confirm(import_id=name_import.pk, user=plain, payment_method="approval")
    order = name_import_run(import_id=name_import.pk).order
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    # 250 names: the order's page links to them instead of listing them inline.
    page = client.get(f"/admin/allocation/order/{order.pk}/change/")
    assert page.status_code == 200 and "All the names of this order" in page.content.decode()
    names_page = client.get(f"/admin/allocation/name/?order__id__exact={order.pk}")
    assert names_page.status_code == 200 and "250 names" in names_page.content.decode()

    response = client.post(
        "/admin/allocation/order/", {"action": "approve", "_selected_action": [order.pk]}, follow=True
    )
    assert "1 order approved" in response.content.decode()
    order.refresh_from_db()
    assert order.status == "paid" and Letter.objects.filter(name__order=order).count() == 250


def test_hostile_cells_are_problems_not_crashes(campaigns, shliach):
    header = HEADER + ["date_of_birth"]
    data = [row + [""] for row in rows(7)]
    data[0][4] = "x" * 10_000  # a family name of 10,000 characters
    data[1][3] = "Moshe\x00Cohen"  # a NUL byte
    data[2][8] = "not a date"  # in a campaign that does not ask for it
    data[3][7] = "USA"  # not a two-letter code
    data[4][0] = "<img src=x onerror=alert(1)>"
    data[5][0] = "משה\u202e"  # a bidirectional override
    name_import = checked(shliach, campaigns["idf"], csv_bytes(header, data))
    assert name_import.status == ImportStatus.REFUSED
    assert [(p["row"], p["column"]) for p in name_import.problems] == [
        (2, "family_name"),
        (3, "english_name"),
        (4, "date_of_birth"),
        (5, "country"),
        (6, "hebrew_name"),
        (7, "hebrew_name"),
    ]
    assert not Name.objects.exists()

    data = [row + [""] for row in rows(2)]
    data[0][8] = "2001-05-06"  # a date of birth where it is not asked is kept
    name_import = imported_offline(shliach, campaigns["idf"], csv_bytes(header, data))
    assert Name.objects.get(order_id=name_import.order_id, english_name="Person 0").date_of_birth == datetime.date(
        2001, 5, 6
    )
