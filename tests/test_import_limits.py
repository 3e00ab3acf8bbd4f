"""Imports that cannot hurt the site: every file over a limit is refused whole with the limit
named, before it costs more than the limit (XLSX files built by hand: tests/xlsx_crafted.py);
the steps run on a queue of their own, and a step that keeps dying ends failed."""

import contextlib
import datetime
import io
import os
import signal
import time
import zipfile

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from accounts.services import profile_language_set
from allocation.models import Letter, Name, Order
from registrations.models import ImportStatus, NameImport
from registrations.services import (
    name_import_check,
    name_import_confirm,
    name_import_create,
    name_import_progress,
    name_import_run,
    name_imports_stuck,
)
from registrations.tasks import check_name_import, resume_name_imports, run_name_import

from . import xlsx_crafted as crafted
from .celery_workers import VISIBILITY_TIMEOUT, broker, wait_for, worker_processes  # noqa: F401 (fixture)
from .conftest import make_user
from .test_imports import HEADER, csv_bytes, rows, xlsx_bytes

SHORT_HEADER = ["hebrew_name", "parent_hebrew_name", "gender"]


@pytest.fixture
def shliach(db):
    return make_user("limits-shliach", permissions=["accounts.register_names", "payments.record_offline_payment"])


def checked(user, campaign, content, source_name="names.xlsx"):
    name_import = name_import_create(user=user, campaign=campaign, source_name=source_name, content=content)
    return name_import_check(import_id=name_import.pk)


def refused(user, campaign, content, source_name="names.xlsx") -> str:
    """The one problem of a refused file; nothing of it kept."""
    name_import = checked(user, campaign, content, source_name)
    assert name_import.status == ImportStatus.REFUSED, (name_import.status, name_import.preview[:2])
    assert name_import.problem_count == 1 and name_import.problems[0]["row"] >= 1
    assert not Name.objects.exists() and not Order.objects.exists()
    return name_import.problems[0]["message"]


def name_rows(count, start=0):
    return [row[:3] for row in rows(count, start)]


# --- XLSX: the zip, before openpyxl opens it and as it reads ------------------------------------


def test_a_zip_bomb_of_shared_strings_is_refused_by_its_ratio(campaigns, shliach):
    # 20 MB of one short string, about 20 KB compressed: a thousand times.
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER]), shared_strings=crafted.zip_bomb_strings(20_000_000))
    assert len(content) < 100_000
    message = refused(shliach, campaigns["idf"], content)
    assert "xl/sharedStrings.xml" in message and "more than 100 times (the limit)" in message


def test_shared_strings_larger_than_their_limit_are_refused_before_openpyxl_reads_them(campaigns, shliach, settings):
    # Empty strings: the most objects openpyxl keeps for a byte, and they compress as text does.
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER]), shared_strings=crafted.empty_strings(9_000_000))
    message = refused(shliach, campaigns["idf"], content)
    assert "xl/sharedStrings.xml" in message and "larger than 8 MB once uncompressed (the limit)" in message

    # The limit is what refuses: a genuine file's shared strings, just over it and just under.
    content = crafted.shared_workbook([HEADER, *rows(20)])
    size = zipfile.ZipFile(io.BytesIO(content)).getinfo("xl/sharedStrings.xml").file_size
    settings.IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES = size - 1
    assert "xl/sharedStrings.xml" in refused(shliach, campaigns["idf"], content)
    settings.IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES = size
    name_import = checked(shliach, campaigns["idf"], content)
    assert name_import.status == ImportStatus.READY, name_import.problems


def test_a_declared_size_that_lies_is_not_believed(campaigns, shliach):
    strings = {f"text {index}": index for index in range(20_000)}
    honest = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER]), shared_strings=crafted.shared_strings(strings))
    lying = crafted.size_declared(honest, "xl/sharedStrings.xml", 1000)
    assert "cannot be opened" in refused(shliach, campaigns["idf"], lying)


def test_parts_read_whole_are_measured_together_as_they_are_read(campaigns, shliach, settings):
    """No size is declared for "what openpyxl reads whole": the bytes are counted as they come."""
    settings.IMPORT_XLSX_MAX_WHOLE_BYTES = 20_000
    styles = crafted.STYLES.replace("</styleSheet>", "<extLst>" + "<ext/>" * 5000 + "</extLst></styleSheet>")
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER, *name_rows(2)]), styles=styles)
    message = refused(shliach, campaigns["idf"], content)
    assert "larger than 0.02 MB together (the limit)" in message
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER, *name_rows(2)]))
    assert checked(shliach, campaigns["idf"], content).status == ImportStatus.READY
    # A sheet that does not say its size is read through by openpyxl as the workbook opens.
    data = [HEADER, *rows(300)]
    message = refused(shliach, campaigns["idf"], crafted.xlsx(sheet=crafted.sheet(data)))
    assert message.startswith("The sheet of this XLSX file does not say its size")
    content = crafted.xlsx(sheet=crafted.sheet(data, dimension="A1:H301"))
    assert checked(shliach, campaigns["idf"], content).status == ImportStatus.READY


def test_a_sheet_total_and_number_of_parts_over_their_limits_are_refused(campaigns, shliach, settings):
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER, *name_rows(300)]))
    settings.IMPORT_XLSX_MAX_SHEET_BYTES = 20_000
    assert "xl/worksheets/sheet1.xml" in refused(shliach, campaigns["idf"], content)
    settings.IMPORT_XLSX_MAX_SHEET_BYTES, settings.IMPORT_XLSX_MAX_TOTAL_BYTES = 150_000_000, 20_000
    assert "larger than 0.02 MB once uncompressed (the limit)" in refused(shliach, campaigns["idf"], content)

    settings.IMPORT_XLSX_MAX_ENTRIES = 20
    assert "more than 20 parts (the limit)" in refused(shliach, campaigns["idf"], crafted.many_parts(15))
    # A directory too large for 20 parts is refused before zipfile reads it into objects.
    assert "more than 20 parts" in refused(shliach, campaigns["idf"], crafted.many_parts(10, name_length=3000))
    settings.IMPORT_XLSX_MAX_ENTRIES = 1000
    assert checked(shliach, campaigns["idf"], crafted.many_parts(15)).status == ImportStatus.READY
    assert "more than 1,000 parts" in refused(shliach, campaigns["idf"], crafted.many_parts(1000))


def test_a_document_type_declaration_is_refused(campaigns, shliach):
    entities = '<!DOCTYPE sst [<!ENTITY a "<si><t>a</t></si>">]>'
    strings = f'<?xml version="1.0"?>{entities}<sst xmlns="{crafted.MAIN}">&a;&a;</sst>'
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER]), shared_strings=strings)
    assert "document type declaration" in refused(shliach, campaigns["idf"], content)


def test_the_declared_dimension_of_a_sheet_is_ignored(campaigns, shliach, settings):
    """A1:XFD1048576 declared over two names: read as written, a few kilobytes' work. A1:C2
    declared over five: openpyxl would stop at row 2, and three names would be lost unsaid."""
    settings.IMPORT_MAX_ROWS = 1000
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER, *name_rows(2)], dimension="A1:XFD1048576"))
    assert len(content) < 3000  # a few kilobytes
    name_import = checked(shliach, campaigns["idf"], content)
    assert (name_import.status, name_import.row_count) == (ImportStatus.READY, 2)
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER, *name_rows(5)], dimension="A1:C2"))
    name_import = checked(shliach, campaigns["idf"], content)
    assert (name_import.status, name_import.row_count) == (ImportStatus.READY, 5)


def test_cells_as_far_as_xfd1048576_are_refused_without_walking_there(campaigns, shliach, settings):
    settings.IMPORT_MAX_ROWS = 1000
    far_down = [SHORT_HEADER, *name_rows(2)] + [None] * 1_048_572 + [["משה", "שרה", "m"]]
    sheet = crafted.sheet(far_down)  # rows 1 to 3, then row 1,048,576
    assert "more than 1,000 rows of names (the limit)" in refused(shliach, campaigns["idf"], crafted.xlsx(sheet=sheet))

    far_right = [SHORT_HEADER, name_rows(1)[0] + [None] * (16384 - 4) + ["x"]]
    content = crafted.xlsx(sheet=crafted.sheet(far_right))
    # Never read further right than one column past the limit: what is beyond is not seen.
    assert checked(shliach, campaigns["idf"], content).status == ImportStatus.READY
    next_column = [SHORT_HEADER, name_rows(1)[0] + [None] * 47 + ["x"]]  # column 51
    message = refused(shliach, campaigns["idf"], crafted.xlsx(sheet=crafted.sheet(next_column)))
    assert message.startswith("Row 2 has more than 50 columns (the limit)")


# --- Rows and columns, CSV and XLSX alike ------------------------------------------------------


@pytest.mark.parametrize("make", [csv_bytes, xlsx_bytes, lambda header, data: crafted.shared_workbook([header, *data])])
def test_rows_beyond_the_limit_refuse_the_file(campaigns, shliach, settings, make):
    settings.IMPORT_MAX_ROWS = 50
    name_import = checked(shliach, campaigns["idf"], make(HEADER, list(rows(50))))
    assert (name_import.status, name_import.row_count) == (ImportStatus.READY, 50)
    message = refused(shliach, campaigns["idf"], make(HEADER, list(rows(51))))
    assert message == "The file has more than 50 rows of names (the limit): split it into several files."
    # Empty rows after the last name are left alone, as Excel leaves them; not a million of them.
    blank = [[""] * len(HEADER)]
    assert checked(shliach, campaigns["idf"], make(HEADER, list(rows(50)) + blank * 30)).status == ImportStatus.READY
    assert "50 rows" in refused(shliach, campaigns["idf"], make(HEADER, list(rows(50)) + blank * 60))
    assert "50 rows" in refused(shliach, campaigns["idf"], make(HEADER, list(rows(50)) + blank * 3 + list(rows(1))))


@pytest.mark.parametrize("make", [csv_bytes, xlsx_bytes])
def test_columns_beyond_the_limit_refuse_the_file(campaigns, shliach, settings, make):
    settings.IMPORT_MAX_COLUMNS = 10
    wide_header = HEADER + ["note", "note 2", "note 3"]  # 11 columns
    message = refused(shliach, campaigns["idf"], make(wide_header, list(rows(2))))
    assert message == "Row 1 has more than 10 columns (the limit): delete the columns that are not needed."
    data = [row + ["", ""] for row in rows(3)]
    data[1] += ["far right"]  # column 11
    assert refused(shliach, campaigns["idf"], make(HEADER + ["note"], data)).startswith("Row 3 has more than 10")
    data[1][-1] = ""  # empty cells out there are no reason to refuse
    assert checked(shliach, campaigns["idf"], make(HEADER + ["note"], data)).status == ImportStatus.READY


def test_a_csv_of_more_rows_than_the_limit_is_refused_and_imports_nothing(campaigns, shliach, settings):
    settings.IMPORT_MAX_ROWS = 2000
    content = csv_bytes(HEADER, list(rows(2001)))
    assert "more than 2,000 rows" in refused(shliach, campaigns["idf"], content, "names.csv")
    # The command line, which imports without a check first, refuses it the same way.
    name_import = name_import_create(
        user=shliach, campaign=campaigns["idf"], source_name="names.csv", content=content,
        payment_method="offline", payment_reference="cash",
    )  # fmt: skip
    assert name_import_run(import_id=name_import.pk).status == ImportStatus.REFUSED
    assert not Name.objects.exists() and not Order.objects.exists()


# --- Sizes --------------------------------------------------------------------------------------


def test_a_file_or_pasted_rows_over_the_size_limit_are_refused_everywhere(
    campaigns, shliach, settings, client, tmp_path
):
    settings.IMPORT_MAX_BYTES = 10_000
    content = csv_bytes(HEADER, list(rows(200)))
    assert len(content) > 10_000
    with pytest.raises(ValidationError, match="larger than 0 MB"):
        name_import_create(user=shliach, campaign=campaigns["idf"], source_name="names.csv", content=content)
    path = tmp_path / "names.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="larger than"):
        call_command("import_names", str(path), campaign="idf", user=shliach.username)
    client.force_login(shliach)
    response = client.post("/shliach/import/", {"campaign": campaigns["idf"].pk, "pasted": content.decode()})
    assert response.status_code == 200 and "split it into several" in response.content.decode()
    assert not NameImport.objects.exists()


# --- What still imports -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, source_name",
    [(csv_bytes, "names.csv"), (xlsx_bytes, "names.xlsx"),
     (lambda header, data: crafted.shared_workbook([header, *data]), "excel.xlsx")],
)  # fmt: skip
def test_genuine_files_at_the_limits_import(campaigns, shliach, settings, make, source_name):
    settings.IMPORT_MAX_ROWS, settings.IMPORT_MAX_COLUMNS = 300, len(HEADER)
    name_import = checked(shliach, campaigns["idf"], make(HEADER, list(rows(300))), source_name)
    assert (name_import.status, name_import.row_count) == (ImportStatus.READY, 300), name_import.problems
    name_import_confirm(import_id=name_import.pk, user=shliach, payment_method="offline", payment_reference="r")
    assert name_import_run(import_id=name_import.pk).status == ImportStatus.IMPORTED
    assert Letter.objects.count() == 300


def test_a_refusal_is_in_the_shliachs_language(campaigns, shliach):
    profile_language_set(user=shliach, language="he")
    lying = crafted.size_declared(crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER])), "xl/worksheets/sheet1.xml", 10)
    message = refused(shliach, campaigns["idf"], lying)
    with translation.override("he"):
        hebrew = translation.gettext("This XLSX file cannot be opened; save it again from Excel.")
    assert message == hebrew and "XLSX" in hebrew and "cannot" not in hebrew


# --- The queue, the limits of a step, and attempts ----------------------------------------------


def test_the_steps_of_an_import_have_a_queue_of_their_own():
    from unitysefer.celery import app

    route = app.amqp.router.route
    assert route({}, "registrations.tasks.check_name_import")["queue"].name == "imports"
    assert route({}, "registrations.tasks.run_name_import")["queue"].name == "imports"
    assert route({}, "registrations.tasks.resume_name_imports")["queue"].name == "celery"  # it only queues
    for task in (check_name_import, run_name_import):
        assert task.acks_late and task.soft_time_limit == 600 and task.time_limit == 660


def test_an_upload_queues_its_check_on_the_imports_queue(campaigns, shliach, broker, client,  # noqa: F811
                                                         django_capture_on_commit_callbacks):  # fmt: skip
    client.force_login(shliach)
    pasted = csv_bytes(HEADER, list(rows(2)), delimiter="\t").decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/shliach/import/", {"campaign": campaigns["idf"].pk, "pasted": pasted})
    assert response.status_code == 302
    assert broker.llen("imports") == 1 and broker.llen("celery") == 0
    assert NameImport.objects.get().status == ImportStatus.CHECKING  # for the imports worker


def test_a_step_that_never_finishes_ends_failed_after_its_attempts(campaigns, shliach, settings):
    """What a worker killed by its limits leaves: a step started (its attempt counted at once, in
    its own transaction) that never finished; late acknowledgement and the sweeper bring it back.
    The file gone from storage stands in for the kill: the step dies each time the same way."""
    name_import = name_import_create(
        user=shliach, campaign=campaigns["idf"], source_name="names.csv", content=csv_bytes(HEADER, list(rows(3)))
    )
    name_import.file.storage.delete(name_import.file.name)
    for attempt in (1, 2, 3):
        with pytest.raises(FileNotFoundError):
            name_import_check(import_id=name_import.pk)
        name_import.refresh_from_db()
        assert (name_import.status, name_import.attempts) == (ImportStatus.CHECKING, attempt)

    NameImport.objects.filter(pk=name_import.pk).update(created_at=timezone.now() - datetime.timedelta(hours=1))
    assert name_imports_stuck() == [(name_import.pk, "check")]
    cache.delete(f"name-import:swept:{name_import.pk}")
    resume_name_imports()  # queues the check again (the test settings run it in-process): given up
    name_import.refresh_from_db()
    assert (name_import.status, name_import.attempts) == (ImportStatus.FAILED, 3)
    assert name_import.failure.startswith("The import was interrupted 3 times before it could finish (the limit)")
    assert name_imports_stuck() == []


def test_the_import_counts_its_own_attempts_after_the_check(campaigns, shliach):
    name_import = checked(shliach, campaigns["idf"], csv_bytes(HEADER, list(rows(3))), "names.csv")
    NameImport.objects.filter(pk=name_import.pk).update(attempts=3)  # the check came through at its last
    name_import_confirm(import_id=name_import.pk, user=shliach, payment_method="offline", payment_reference="r")
    name_import = name_import_run(import_id=name_import.pk)
    assert (name_import.status, name_import.attempts) == (ImportStatus.IMPORTED, 1)
    assert name_import_run(import_id=name_import.pk).attempts == 1  # done: run again, nothing counted


def test_a_limit_reached_fails_the_import_with_the_limit_named(campaigns, shliach):
    from registrations.services import name_import_fail

    for cause, expected in [("time", "longer than 10 minutes (the limit)"),
                            ("memory", "more than 512 MB of memory (the limit)")]:  # fmt: skip
        name_import = name_import_create(
            user=shliach, campaign=campaigns["idf"], source_name="n.csv", content=csv_bytes(HEADER, list(rows(1)))
        )
        name_import_fail(import_id=name_import.pk, cause=cause)
        name_import.refresh_from_db()
        assert name_import.status == ImportStatus.FAILED and expected in name_import.failure


def test_a_page_of_a_failed_import_says_why(campaigns, shliach, client):
    from registrations.services import name_import_fail

    name_import = name_import_create(
        user=shliach, campaign=campaigns["idf"], source_name="n.csv", content=csv_bytes(HEADER, list(rows(1)))
    )
    name_import_fail(import_id=name_import.pk, cause="memory")
    client.force_login(shliach)
    page = client.get(f"/shliach/imports/{name_import.pk}/").content.decode()
    assert "512 MB of memory (the limit)" in page


# --- In a real worker on the imports queue ------------------------------------------------------


@pytest.fixture
def imports_worker(tmp_path):
    """Starts a Celery worker on the "imports" queue with the given settings, reading the uploads
    where this process keeps them."""
    location = str(NameImport._meta.get_field("file").storage.location)

    def start(name, **env):
        return stack.enter_context(worker_processes(tmp_path, queue="imports", env={"IMPORTS_ROOT": location, **env}))(
            name
        )

    with contextlib.ExitStack() as stack:
        yield start


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_step_over_its_memory_limit_fails_named_in_the_worker(campaigns, shliach, broker, imports_worker):  # noqa: F811
    # About 100 MB once openpyxl holds it, within every limit of the file: the worker's is 20 MB.
    content = crafted.xlsx(sheet=crafted.sheet([SHORT_HEADER]), shared_strings=crafted.empty_strings(6_000_000))
    name_import = name_import_create(user=shliach, campaign=campaigns["idf"], source_name="n.xlsx", content=content)
    check_name_import.delay(name_import.pk)
    assert broker.llen("imports") == 1
    imports_worker("memory", IMPORT_MEMORY_LIMIT_MB="20")
    failed = NameImport.objects.filter(pk=name_import.pk, status=ImportStatus.FAILED)
    wait_for(failed.exists, timeout=60, what="the import to fail for its memory")
    assert "more than 20 MB of memory (the limit)" in failed.get().failure
    assert failed.get().attempts == 1 and broker.llen("imports") == 0  # not retried


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_step_over_its_time_limit_fails_named_in_the_worker(campaigns, shliach, broker, imports_worker):  # noqa: F811
    # The hard limit alone (no soft one to stop it gently): the worker's process is killed. The
    # file is checked in about 8 s on this machine at its fastest (100,000 rows took 2.7 s), well
    # over the limit of 3 s, and is still under IMPORT_MAX_ROWS.
    name_import = name_import_create(
        user=shliach, campaign=campaigns["idf"], source_name="n.csv", content=csv_bytes(HEADER, list(rows(300_000)))
    )
    check_name_import.delay(name_import.pk)
    imports_worker("time", IMPORT_TIME_LIMIT="3", IMPORT_SOFT_TIME_LIMIT="0")
    failed = NameImport.objects.filter(pk=name_import.pk, status=ImportStatus.FAILED)
    wait_for(failed.exists, timeout=60, what="the import to fail for its time")
    assert "longer than 0.05 minutes (the limit)" in failed.get().failure
    assert failed.get().attempts == 1  # not retried: it would be killed again
    wait_for(lambda: not broker.llen("imports") and not broker.hlen("unacked"), timeout=10, what="the queue empty")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_step_gives_it_back_only_so_often(campaigns, shliach, broker, imports_worker):  # noqa: F811
    """Killed outright (as the kernel's OOM killer does): nothing of ours runs, the broker gives
    the step to the next worker, which counts it and, past IMPORT_MAX_ATTEMPTS, fails it."""
    name_import = name_import_create(
        user=shliach, campaign=campaigns["idf"], source_name="n.csv", content=csv_bytes(HEADER, list(rows(100_000)))
    )
    step = NameImport.objects.filter(pk=name_import.pk)
    check_name_import.delay(name_import.pk)
    first = imports_worker("first", IMPORT_MAX_ATTEMPTS="1")
    wait_for(lambda: name_import_progress(name_import=step.get()) > 0, timeout=60, what="the check under way")
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, mid-step
    first.wait()
    assert (step.get().status, step.get().attempts) == (ImportStatus.CHECKING, 1)
    assert broker.hlen("unacked") == 1  # never acknowledged: it comes back

    time.sleep(VISIBILITY_TIMEOUT + 0.5)
    imports_worker("second", IMPORT_MAX_ATTEMPTS="1")
    wait_for(lambda: step.get().status == ImportStatus.FAILED, timeout=60, what="the import to be failed")
    assert step.get().failure.startswith("The import was interrupted 1 times before it could finish (the limit)")
    wait_for(lambda: not broker.hlen("unacked"), timeout=10, what="the step acknowledged")
