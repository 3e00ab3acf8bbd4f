"""The integrity check, its nightly alert, and backups proven by restoring them.

- integrity_verify: every breach of the project's invariants (operations.integrity), on the
  live database, read in one snapshot.
- integrity_alert_send: email staff the breaches (ids and slugs only).
- backup_write: a pg_dump (custom format) and the certificates' files, with a manifest of
  counts taken in the dump's own snapshot.
- backup_restore_check: restore a backup into a throwaway database, check it there, compare.
"""

import datetime
import hashlib
import json
import logging
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from psycopg2 import sql

from payments.services import payment_alert_recipients

from . import postgres
from .integrity import Breach, IntegrityContext, breaches_find, counts_read

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DUMP = "database.dump"
FILES_DIR = "certificates"
FILES_LIST = "certificates.tsv"
MANIFEST_FORMAT = 1
# The most breaches one alert email lists (the command prints them all).
ALERT_BREACHES_LISTED = 200


# --- The integrity check ----------------------------------------------------------------------


def integrity_verify(
    *, as_of: datetime.datetime | None = None, certificate_files_checked: int | None = -1
) -> list[Breach]:
    """Every breach of every invariant in the live database, read in one snapshot when called
    outside a transaction (REPEATABLE READ, read only). Certificates' files: a sample of
    INTEGRITY_CERTIFICATE_FILES_CHECKED by default, None for every one."""
    if certificate_files_checked == -1:
        certificate_files_checked = settings.INTEGRITY_CERTIFICATE_FILES_CHECKED or None
    context = IntegrityContext(
        as_of=as_of or timezone.now(),
        certificates_storage=storages["certificates"],
        certificate_files_checked=certificate_files_checked,
    )
    # Outside any transaction (the task, the command) the snapshot is chosen before the first
    # query; inside one (a test) the checks read what that transaction sees.
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return breaches_find(cursor=cursor, context=context)


def integrity_alert_recipients() -> list[str]:
    """INTEGRITY_ALERT_EMAILS, else whoever hears of payments' trouble (PAYMENTS_ALERT_EMAILS,
    else every active staff user with an address)."""
    if settings.INTEGRITY_ALERT_EMAILS:
        return list(settings.INTEGRITY_ALERT_EMAILS)
    return payment_alert_recipients()


def integrity_alert_send(*, breaches: list[Breach]) -> bool:
    """Email staff the breaches: ids, slugs and positions only. Returns whether it was sent."""
    recipients = integrity_alert_recipients()
    if not breaches or not recipients:
        if breaches:
            logger.error("Integrity check: %d breaches and no one to tell", len(breaches))
        return False
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Integrity check: %(count)d breaches found") % {"count": len(breaches)}
        body = render_to_string(
            "emails/integrity_alert.txt",
            {
                "breaches": [str(breach) for breach in breaches[:ALERT_BREACHES_LISTED]],
                "more": max(0, len(breaches) - ALERT_BREACHES_LISTED),
                "count": len(breaches),
            },
        )
    EmailMessage(subject=subject, body=body, to=recipients).send()
    return True


def integrity_verify_and_alert() -> list[Breach]:
    """The nightly run: check, log each breach, email staff if there is any."""
    breaches = integrity_verify()
    for breach in breaches:
        logger.error("Integrity breach: %s", breach)
    if breaches:
        integrity_alert_send(breaches=breaches)
    else:
        logger.info("Integrity check: no breach")
    return breaches


# --- Backups ----------------------------------------------------------------------------------


class BackupError(Exception):
    """A backup that cannot be written or proven; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_path(root: Path, name: str) -> Path:
    """`name` (a storage's name, from the database) under `root`, never outside it."""
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()) or target == root.resolve():
        raise BackupError(_("A file name that leaves the backup's folder was refused: %(name)s") % {"name": name})
    return target


_FILES = """
    SELECT file FROM certificates_certificate WHERE file <> ''
    UNION SELECT file FROM certificates_certificatesheet WHERE file <> ''
    UNION SELECT background FROM certificates_certificatesheet WHERE background <> ''
    UNION SELECT booklet FROM certificates_ordercertificates WHERE booklet <> ''
    ORDER BY 1
"""


def backup_write(*, output: Path) -> dict:
    """Write a backup into `output` (a new or empty folder): the database as pg_dump's custom
    format (`pg_restore` reads it), the certificates' files (certificates, sheets, booklets)
    copied through the storage API, and manifest.json: the counts and the list of files read in
    the dump's own snapshot (pg_dump --snapshot), the dump's sha256. Returns the manifest.

    A file the database names but the storage lacks is listed as missing in the manifest (and
    restore_check then fails, naming it): the dump is written whatever happens to the files."""
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupError(_("%(path)s exists and is not an empty folder: give a new one.") % {"path": output})
    output.mkdir(parents=True, exist_ok=True)
    dump = output / DUMP
    snapshot_connection = postgres.connect()
    try:
        snapshot_connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with snapshot_connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), now(), current_database()")
            snapshot, taken_at, database = cursor.fetchone()
            server = postgres.server_major(cursor)
            pg_dump, dump_major = postgres.tool_find("pg_dump", at_least=server)
            counts = counts_read(cursor=cursor)
            cursor.execute(_FILES)
            files = [name for (name,) in cursor.fetchall()]
            # The snapshot lives while this transaction is open: pg_dump reads exactly what was counted.
            postgres.tool_run(
                [str(pg_dump), "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", "--no-password"],
                env=postgres.tool_environment(),
            )
        snapshot_connection.rollback()
    except psycopg2.Error as error:
        raise BackupError(_("The database could not be read: %(error)s") % {"error": error}) from error
    except postgres.PostgresToolError as error:
        raise BackupError(str(error)) from error
    finally:
        snapshot_connection.close()
    copied, missing, total_bytes = _files_copy(files=files, root=output / FILES_DIR, listing=output / FILES_LIST)
    manifest = {
        "format": MANIFEST_FORMAT,
        "taken_at": taken_at.isoformat(),
        "database": database,
        "server_major": server,
        "pg_dump_major": dump_major,
        "dump": {"file": DUMP, "sha256": _sha256(dump), "bytes": dump.stat().st_size},
        "counts": counts,
        "files": {
            "folder": FILES_DIR,
            "list": FILES_LIST,
            "list_sha256": _sha256(output / FILES_LIST),
            "copied": copied,
            "bytes": total_bytes,
            "missing": missing,
        },
    }
    (output / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _files_copy(*, files: list[str], root: Path, listing: Path) -> tuple[int, list[str], int]:
    """Copy each named file out of the certificates' storage (local or S3), one at a time."""
    storage = storages["certificates"]
    root.mkdir()
    copied, missing, total = 0, [], 0
    with listing.open("w", encoding="utf-8") as lines:
        for name in files:
            target = _safe_path(root, name)
            try:
                source = storage.open(name, "rb")
            except FileNotFoundError:
                missing.append(name)
                logger.error("Backup: the certificates' file %s is missing from the storage", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            size = target.stat().st_size
            lines.write(f"{name}\t{size}\n")
            copied, total = copied + 1, total + size
    return copied, missing, total


@dataclass
class RestoreCheck:
    manifest: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    database: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems and not self.breaches


def backup_restore_check(*, directory: Path) -> RestoreCheck:
    """Prove a backup: the dump's checksum, every listed file present at its size, then the dump
    restored into a throwaway database (dropped afterwards, whatever happens), the integrity
    check run there (every certificate's file looked for in the backup's folder) and its counts
    compared with the manifest's."""
    directory = Path(directory)
    result = RestoreCheck()
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(
            _("%(path)s holds no readable manifest: %(error)s") % {"path": directory, "error": error}
        ) from error
    result.manifest = manifest
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(
            _("This manifest's format (%(format)s) is not one this version reads.") % {"format": manifest.get("format")}
        )
    dump = directory / manifest["dump"]["file"]
    if not dump.is_file():
        raise BackupError(_("The dump %(path)s is missing.") % {"path": dump})
    if _sha256(dump) != manifest["dump"]["sha256"]:
        raise BackupError(
            _("The dump %(path)s does not match its checksum in the manifest: it changed or is damaged.")
            % {"path": dump}
        )
    result.problems.extend(_files_check(directory=directory, files=manifest["files"]))
    maintenance = postgres.connect()
    maintenance.autocommit = True
    name = f"restore_check_{secrets.token_hex(6)}"
    result.database = name
    try:
        with maintenance.cursor() as cursor:
            server = postgres.server_major(cursor)
            pg_restore, restore_major = postgres.tool_find(
                "pg_restore", at_least=max(server, manifest["pg_dump_major"])
            )
            cursor.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        try:
            # A pg_restore newer than the server begins with settings the server does not know
            # (17's transaction_timeout): it carries on past them, and only they are forgiven.
            newer = restore_major > server
            postgres.tool_run(
                [str(pg_restore), "--no-owner", "--no-privileges", "--no-password", f"--dbname={name}", str(dump)]
                + ([] if newer else ["--exit-on-error"]),
                env=postgres.tool_environment(dbname=name),
                tolerated=postgres.only_settings_unknown_to_an_older_server if newer else None,
            )
            _restored_check(result=result, name=name, directory=directory, manifest=manifest)
        finally:
            with maintenance.cursor() as cursor:
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except psycopg2.Error as error:
        raise BackupError(_("The throwaway database failed: %(error)s") % {"error": error}) from error
    except postgres.PostgresToolError as error:
        raise BackupError(str(error)) from error
    finally:
        maintenance.close()
    return result


def _files_check(*, directory: Path, files: dict) -> list[str]:
    problems = []
    listing = directory / files["list"]
    if not listing.is_file() or _sha256(listing) != files["list_sha256"]:
        return [_("The list of files %(path)s is missing or does not match its checksum.") % {"path": listing}]
    root = directory / files["folder"]
    count = 0
    with listing.open(encoding="utf-8") as lines:
        for line in lines:
            name, size = line.rstrip("\n").rsplit("\t", 1)
            count += 1
            path = _safe_path(root, name)
            if not path.is_file():
                problems.append(_("The file %(name)s is listed but missing from the backup.") % {"name": name})
            elif path.stat().st_size != int(size):
                problems.append(_("The file %(name)s is not the size it was copied at.") % {"name": name})
    if count != files["copied"]:
        problems.append(
            _("The manifest counts %(expected)d files; the list names %(found)d.")
            % {"expected": files["copied"], "found": count}
        )
    for name in files["missing"]:
        problems.append(
            _("The file %(name)s was missing from the storage when the backup was written.") % {"name": name}
        )
    return problems


def _restored_check(*, result: RestoreCheck, name: str, directory: Path, manifest: dict) -> None:
    restored = postgres.connect(dbname=name)
    try:
        restored.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with restored.cursor() as cursor:
            context = IntegrityContext(
                as_of=datetime.datetime.fromisoformat(manifest["taken_at"]),
                certificates_storage=FileSystemStorage(location=directory / manifest["files"]["folder"]),
                certificate_files_checked=None,
            )
            result.breaches = breaches_find(cursor=cursor, context=context)
            result.counts = counts_read(cursor=cursor)
        restored.rollback()
    finally:
        restored.close()
    expected = manifest["counts"]
    for key in sorted(set(expected) | set(result.counts)):
        if expected.get(key) != result.counts.get(key):
            result.problems.append(
                _("%(what)s: %(expected)s in the manifest, %(found)s restored.")
                % {"what": key, "expected": expected.get(key), "found": result.counts.get(key)}
            )
