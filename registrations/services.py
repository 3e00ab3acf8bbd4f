"""Bulk registration: a spreadsheet, a pasted list or the data-entry grid becomes one order of
names, checked row by row first and imported all at once.

Checking and importing are the same walk over the file (`names_import`): each row is cleaned
by allocation.services.name_clean (the rules every path shares) and written into the order's
names as it is read, so memory does not grow with the file; duplicates are then found by the
database. A check, or an import with any problem, rolls the whole transaction back: nothing
of a refused file is ever kept.
"""

import logging
import re
from array import array
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Profile
from accounts.selectors import user_language
from allocation.models import Name, Order, OrderChannel
from allocation.services import Consent, campaign_today, name_clean, order_amount_suggested, order_place
from core.signals import announce_on_commit
from payments.services import offline_payment_check, payment_record_offline
from teams.selectors import team_credited

from .models import ImportPayment, ImportStatus, NameImport
from .readers import FileRefused, RowProblem, rows_read
from .signals import import_refused

logger = logging.getLogger(__name__)

# Problems kept to show (all are counted); a file with more is mostly wrong anyway.
PROBLEMS_KEPT = 1000
# Rows shown in the preview.
PREVIEW_ROWS = 20
# How often progress is reported, in rows.
PROGRESS_EVERY = 5000
# What makes two rows the same person, for duplicates.
DUPLICATE_KEY = ("hebrew_name", "parent_hebrew_name", "gender", "family_name", "date_of_birth")


class ImportRefused(Exception):
    """Rows have problems: nothing was imported."""

    def __init__(self, result):
        super().__init__(f"{result.problem_count} problems")
        self.result = result


@dataclass
class ImportResult:
    row_count: int = 0
    problem_count: int = 0
    problems: list = field(default_factory=list)
    preview: list = field(default_factory=list)
    order: Order | None = None

    def problem_add(self, problem: RowProblem):
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append({"row": problem.row, "column": problem.column, "message": str(problem.message)})


# --- Duplicates ------------------------------------------------------------------------------


def _same_person(left: str, right: str) -> str:
    conditions = [f"{left}.{column} = {right}.{column}" for column in DUPLICATE_KEY if column != "date_of_birth"]
    conditions.append(
        f"({left}.date_of_birth = {right}.date_of_birth"
        f" OR ({left}.date_of_birth IS NULL AND {right}.date_of_birth IS NULL))"
    )
    return " AND ".join(conditions)


def _duplicates_find(*, order: Order, user) -> list[tuple[int, str, int | None]]:
    """(index of the row among the order's names, kind, index of the row it repeats or the id
    of the earlier order) for every name that repeats another of this file, or one this user
    already registered in this campaign (cancelled orders aside)."""
    table = Name._meta.db_table
    key = ", ".join(DUPLICATE_KEY)
    found = []
    with connection.cursor() as cursor:
        # Names of one order get increasing ids in the order they were read.
        cursor.execute(
            f"""
            SELECT rank, first_rank FROM (
                SELECT row_number() OVER (ORDER BY id) AS rank,
                       min(id) OVER (PARTITION BY {key}) AS first_id, id
                FROM {table} WHERE order_id = %s
            ) ranked
            JOIN (SELECT id AS first_id, row_number() OVER (ORDER BY id) AS first_rank
                  FROM {table} WHERE order_id = %s) firsts USING (first_id)
            WHERE id <> first_id
            """,
            [order.pk, order.pk],
        )
        found += [(rank - 1, "file", first_rank - 1) for rank, first_rank in cursor.fetchall()]
        cursor.execute(
            f"""
            SELECT ranked.rank, min(earlier.order_id) FROM (
                SELECT row_number() OVER (ORDER BY id) AS rank, {key}
                FROM {table} WHERE order_id = %s
            ) ranked
            JOIN {table} earlier ON {_same_person("earlier", "ranked")}
            JOIN {Order._meta.db_table} earlier_order ON earlier_order.id = earlier.order_id
            WHERE earlier_order.created_by_id = %s AND earlier_order.campaign_id = %s
              AND earlier_order.id <> %s AND earlier_order.status <> 'cancelled'
            GROUP BY ranked.rank
            """,
            [order.pk, user.pk, order.campaign_id, order.pk],
        )
        found += [(rank - 1, "earlier", order_id) for rank, order_id in cursor.fetchall()]
    return sorted(found)


# --- The walk over a file ---------------------------------------------------------------------


def names_import(*, name_import: NameImport, dry_run: bool, progress=None) -> ImportResult:
    """Read the import's file, clean every row and write it as a name of a new pending order;
    find duplicates. With `dry_run`, or when any row has a problem, everything is rolled back
    (ImportRefused carries the problems); otherwise the order is kept, pending, with its amount.
    `progress(rows_read)` is called every few thousand rows."""
    campaign = name_import.campaign
    user = name_import.created_by
    result = ImportResult()
    today = campaign_today(campaign=campaign)
    # The spreadsheet row of each name written, to name it in a duplicate problem (4 bytes each).
    row_numbers = array("I")
    with transaction.atomic():

        def names_read():
            """The rows of the file, cleaned, as they are read; each row's problems recorded."""
            with name_import.file.open("rb") as raw:
                for row in rows_read(raw):
                    result.row_count += 1
                    for problem in row.problems:
                        result.problem_add(problem)
                    if len(result.preview) < PREVIEW_ROWS:
                        result.preview.append({"row": row.number, **{k: _shown(v) for k, v in row.values.items()}})
                    try:
                        cleaned = name_clean(data=row.values, campaign=campaign, today=today)
                    except ValidationError as error:
                        flagged = {problem.column for problem in row.problems}  # said once is enough
                        for column, messages in error.message_dict.items():
                            for message in messages if column not in flagged else ():
                                result.problem_add(RowProblem(row.number, column, message))
                        continue
                    if row.problems:
                        continue
                    row_numbers.append(row.number)
                    if progress and result.row_count % PROGRESS_EVERY == 0:
                        progress(result.row_count)
                    yield cleaned

        try:
            # The one way in for every order; it writes the names as they stream by.
            order = order_place(
                campaign=campaign,
                names=names_read(),
                names_cleaned=True,
                created_by=user,
                channel=OrderChannel.SHLIACH,
                # The shliach's own team of the campaign, if they collect for one.
                team=team_credited(campaign=campaign, users=(user,)),
                consent=name_import_consent(name_import=name_import),
            )
        except ValidationError as error:
            if "names" not in getattr(error, "error_dict", {}):
                raise
            # No row came through: the file is empty, or every row has a problem (said below).
            order = None
        if result.row_count == 0:
            raise FileRefused(_("The file has a header but no names."))
        if not dry_run:
            # One import of this shliach at a time past this point, to the commit: two imports
            # of the same file by two workers would otherwise each miss the other's names.
            list(Profile.objects.select_for_update().filter(user=user).values_list("pk", flat=True))
        for index, kind, other in _duplicates_find(order=order, user=user) if order is not None else ():
            if kind == "file":
                message = _("The same name as row %(row)d.") % {"row": row_numbers[other]}
            else:
                message = _("You already registered this name in this campaign (order %(order)d).") % {"order": other}
            result.problem_add(RowProblem(row_numbers[index], "hebrew_name", message))
        if result.problem_count:
            result.problems.sort(key=lambda problem: problem["row"])
            transaction.set_rollback(True)
            raise ImportRefused(result)
        if dry_run:
            transaction.set_rollback(True)
        else:
            result.order = order
    return result


# What the preview keeps of a cell: enough to recognise it.
PREVIEW_CELL_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _shown(value):
    """A cell as the preview shows it: as text, control characters (which PostgreSQL's JSON
    cannot even store, in the case of NUL) as �, and cut short."""
    if value is True:
        return _("yes")
    if value is False or value is None:
        return ""
    return _CONTROL.sub("\ufffd", str(value))[:PREVIEW_CELL_CHARS]


# --- The life of an import -------------------------------------------------------------------


def _progress_key(name_import: NameImport) -> str:
    """One counter per step (the import starts again from 0 after the check), named by when the
    import was made as well as its id, so no counter left by another import can be read."""
    return f"name-import-progress:{name_import.pk}:{name_import.created_at.timestamp()}:{name_import.status}"


def name_import_progress(*, name_import: NameImport) -> int:
    """Rows read so far by the step under way (kept in the cache: the step's own transaction is
    not visible until it ends)."""
    if name_import.status not in (ImportStatus.CHECKING, ImportStatus.IMPORTING):
        return name_import.rows_done
    return cache.get(_progress_key(name_import), 0)


def _reporter(name_import: NameImport):
    key = _progress_key(name_import)

    def report(rows):
        cache.set(key, rows, timeout=3600)

    return report


def name_import_consent(*, name_import: NameImport) -> Consent | None:
    """The consent the shliach gave for this import's people, as order_place records it."""
    if name_import.consent_given_at is None:
        return None
    return Consent(at=name_import.consent_given_at, notice_version=name_import.consent_notice_version)


def name_import_create(
    *,
    user,
    campaign,
    source_name: str,
    content,
    payment_method: str = "",
    payment_reference: str = "",
    consent: Consent | None = None,
) -> NameImport:
    """Keep the rows of a file (CSV or XLSX: bytes, or a file object, copied to storage in
    chunks). With a payment method it goes straight to importing (the command line: the import
    checks every row anyway and refuses the whole file on any problem); without, it waits to be
    checked."""
    if not campaign.active:
        raise ValidationError(_("This campaign is not taking names now."))
    size = len(content) if isinstance(content, bytes) else File(content).size
    if size > settings.IMPORT_MAX_BYTES:  # pasted rows and the command line too, not only the form
        raise ValidationError(
            _("The file is larger than %(size)d MB: split it into several.")
            % {"size": settings.IMPORT_MAX_BYTES // 1_000_000}
        )
    name_import = NameImport(
        campaign=campaign,
        created_by=user,
        source_name=source_name[:200],
        status=ImportStatus.IMPORTING if payment_method else ImportStatus.CHECKING,
        payment_method=payment_method,
        payment_reference=payment_reference.strip(),
        consent_given_at=consent.at if consent else None,
        consent_notice_version=consent.notice_version if consent else "",
    )
    stored = ContentFile(content) if isinstance(content, bytes) else content
    name_import.file.save(source_name[-100:] or "names.csv", stored, save=False)
    name_import.save()
    return name_import


def name_import_start(*, user, campaign, source_name: str, content, consent: Consent | None = None) -> NameImport:
    """Keep the rows (as name_import_create; pasted text as UTF-8 CSV or tab-separated) and
    queue their check. The shliach follows it at reverse("registrations:import-detail",
    args=[pk]), which shows the problems or the preview and asks to confirm."""
    from .tasks import name_import_check_enqueue

    with transaction.atomic():
        name_import = name_import_create(
            user=user, campaign=campaign, source_name=source_name, content=content, consent=consent
        )
        name_import_check_enqueue(import_id=name_import.pk)
    return name_import


def name_import_check(*, import_id: int) -> NameImport:
    """Check every row (nothing is kept) and record the problems or the preview. Safe to run
    again: a check already done is not repeated."""
    name_import = NameImport.objects.select_related("campaign", "created_by").get(pk=import_id)
    if name_import.status != ImportStatus.CHECKING or not _attempt_start(name_import=name_import):
        name_import.refresh_from_db()
        return name_import
    update = {}
    try:
        # The worker speaks the shliach's language: the problems are kept as they read them.
        with translation.override(user_language(user=name_import.created_by)):
            result = names_import(name_import=name_import, dry_run=True, progress=_reporter(name_import))
    except ImportRefused as refused:
        result = refused.result
        update["status"] = ImportStatus.REFUSED
    except FileRefused as refused:
        result = ImportResult(problem_count=1, problems=[{"row": 1, "column": "", "message": refused.message}])
        update["status"] = ImportStatus.REFUSED
    else:
        update["status"] = ImportStatus.READY
    update |= {
        "row_count": result.row_count,
        "rows_done": result.row_count,
        "problem_count": result.problem_count,
        "problems": result.problems,
        "preview": result.preview,
    }
    changed = NameImport.objects.filter(pk=import_id, status=ImportStatus.CHECKING).update(**update)
    if changed and update["status"] == ImportStatus.REFUSED:
        announce_on_commit(import_refused, sender=NameImport, import_id=import_id, step="check")
    name_import.refresh_from_db()
    return name_import


def name_import_payment_choices(*, user) -> list[str]:
    """How this user may pay for an import: offline only with the permission to record it."""
    choices = [ImportPayment.CARD, ImportPayment.APPROVAL]
    if user.has_perm("payments.record_offline_payment"):
        choices.insert(0, ImportPayment.OFFLINE)
    return choices


def name_import_confirm(
    *, import_id: int, user, payment_method: str, payment_reference: str = "", consent: Consent | None = None
) -> NameImport:
    """The shliach confirms a checked import: it is queued to run once, all at once. `consent`
    (the confirmation's box, when the grid did not ask it already) is kept with the import for
    order_place."""
    from .tasks import name_import_run_enqueue

    with transaction.atomic():
        name_import = NameImport.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=import_id)
        if name_import.created_by_id != user.pk:
            raise PermissionDenied
        if name_import.status != ImportStatus.READY:
            raise ValidationError(_("This import is not waiting for confirmation."))
        if payment_method not in name_import_payment_choices(user=user):
            raise ValidationError({"payment_method": [_("Choose how the names are paid for.")]})
        payment_reference = payment_reference.strip()
        if payment_method == ImportPayment.OFFLINE:
            if not payment_reference:
                raise ValidationError({"payment_reference": [_("Give the receipt or transfer reference.")]})
            amount = order_amount_suggested(campaign=name_import.campaign, name_count=name_import.row_count)
            offline_payment_check(user=user, amount=amount, currency=name_import.campaign.currency)
        name_import.status = ImportStatus.IMPORTING
        name_import.payment_method = payment_method
        name_import.payment_reference = payment_reference
        name_import.attempts = 0  # the import's own, not the check's
        updated = ["status", "payment_method", "payment_reference", "attempts"]
        if consent is not None and name_import.consent_given_at is None:
            name_import.consent_given_at, name_import.consent_notice_version = consent.at, consent.notice_version
            updated += ["consent_given_at", "consent_notice_version"]
        name_import.save(update_fields=updated)
        name_import_run_enqueue(import_id=import_id)
    return name_import


def name_import_run(*, import_id: int) -> NameImport:
    """Import a confirmed file: one order with every name, paid offline (and its letters
    allocated) when so chosen, else pending card payment or staff approval. Runs once: the
    import row is locked for the whole import and a finished import is left alone."""
    waiting = NameImport.objects.select_related("created_by").get(pk=import_id)
    if waiting.status != ImportStatus.IMPORTING or not _attempt_start(name_import=waiting):
        waiting.refresh_from_db()
        return waiting
    with transaction.atomic(), translation.override(user_language(user=waiting.created_by)):
        # The import's row only: with select_related, FOR UPDATE would also lock the campaign's row
        # (and the user's) for the whole walk over the file, stalling every purchase in the campaign.
        name_import = (
            NameImport.objects.select_for_update(of=("self",))
            .select_related("campaign", "created_by")
            .get(pk=import_id)
        )
        if name_import.status != ImportStatus.IMPORTING:
            return name_import
        try:
            result = names_import(name_import=name_import, dry_run=False, progress=_reporter(name_import))
        except (ImportRefused, FileRefused) as refused:
            # The file or the shliach's earlier names changed since the check (e.g. the same
            # file imported twice): refuse, with the problems.
            result = getattr(refused, "result", None) or ImportResult(
                problem_count=1, problems=[{"row": 1, "column": "", "message": refused.message}]
            )
            name_import.status = ImportStatus.REFUSED
            name_import.problem_count = result.problem_count
            name_import.problems = result.problems
            name_import.save(update_fields=["status", "problem_count", "problems"])
            announce_on_commit(import_refused, sender=NameImport, import_id=import_id, step="import")
            return name_import
        name_import.status = ImportStatus.IMPORTED
        name_import.order = result.order
        name_import.rows_done = result.row_count
        name_import.save(update_fields=["status", "order", "rows_done"])
        order = result.order
        if name_import.payment_method == ImportPayment.OFFLINE:
            offline_payment_check(user=name_import.created_by, amount=order.amount, currency=order.currency)
            # Paid, then allocated in the same transaction: the order's letters or nothing.
            payment_record_offline(
                order=order, reference=name_import.payment_reference, recorded_by=name_import.created_by
            )
    logger.info("Import %s: %d names into order %s", import_id, result.row_count, order.pk)
    return name_import


# Why a step failed, when it is not a problem of a row; each names its limit.
FAILURES = {
    "error": gettext_lazy("The import could not be completed; staff were told."),
    "time": gettext_lazy(
        "The import took longer than %(minutes)s minutes (the limit): split the file into several and import "
        "them one by one."
    ),
    "memory": gettext_lazy(
        "The import needed more than %(megabytes)s MB of memory (the limit): split the file into several, or "
        "save it as CSV (UTF-8)."
    ),
    "attempts": gettext_lazy(
        "The import was interrupted %(attempts)s times before it could finish (the limit): split the file into "
        "several and import them one by one."
    ),
}


def _number(value) -> str:
    """A limit as people write it: 10, not 10.0; 0.5 with the language's decimal mark."""
    value = round(value, 2)
    return number_format(int(value) if value == int(value) else value)


def name_import_fail(*, import_id: int, cause: str = "error") -> None:
    """A step ended for a reason that is not a problem of a row: a limit of the task (`cause`
    "time" or "memory", see FAILURES), or its retries spent ("error"). The page says so, in the
    shliach's language."""
    name_import = NameImport.objects.select_related("created_by").filter(pk=import_id).first()
    if name_import is None:
        return
    with translation.override(user_language(user=name_import.created_by)):
        reason = str(FAILURES[cause]) % {
            "minutes": _number((settings.IMPORT_SOFT_TIME_LIMIT or settings.IMPORT_TIME_LIMIT) / 60),
            "megabytes": _number(settings.IMPORT_MEMORY_LIMIT_MB),
            "attempts": _number(settings.IMPORT_MAX_ATTEMPTS),
        }
    NameImport.objects.filter(pk=import_id, status__in=[ImportStatus.CHECKING, ImportStatus.IMPORTING]).update(
        status=ImportStatus.FAILED, failure=reason[:2000]
    )


def _attempt_start(*, name_import: NameImport) -> bool:
    """Count a start of the step under way, committed at once (a worker killed mid-step, by its
    time or memory limit, still counted it); after IMPORT_MAX_ATTEMPTS starts, fail the import
    instead: late acknowledgement and the sweeper would otherwise bring it back forever."""
    steps = NameImport.objects.filter(pk=name_import.pk, status=name_import.status)
    if steps.filter(attempts__gte=settings.IMPORT_MAX_ATTEMPTS).exists():
        name_import_fail(import_id=name_import.pk, cause="attempts")
        return False
    return steps.update(attempts=F("attempts") + 1) == 1


def name_imports_stuck(*, older_than_seconds: int = 300) -> list[tuple[int, str]]:
    """Imports still checking or importing a while after they were started or confirmed, with
    the step to run again ("check" or "run")."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = NameImport.objects.filter(
        status__in=[ImportStatus.CHECKING, ImportStatus.IMPORTING], created_at__lte=cutoff
    ).values_list("id", "status")
    return [(pk, "check" if status == ImportStatus.CHECKING else "run") for pk, status in stuck]
