"""The integrity check: every invariant the project promises, read back from the database.

Each check is one SQL query that returns the rows breaking it (one statement: it sees one
snapshot of the data, whatever commits meanwhile), turned into `Breach`es that name the
campaign, scroll and position, or the order, by ids and slugs only (the alert email carries
them: no person's data). The queries take a DB-API cursor, so the same checks run on the live
database (Django's connection) and on a restored copy (psycopg2; operations.backups).

What is checked (docs/architecture.md, "Integrity and backups"):
- each position of a scroll is held once (one letter; a letter at an honour letter only for
  the name it was given to) and lies within the scroll;
- no gap in a sequential scroll: positions 1..steps_walked each hold a letter or an honour
  letter not yet given, and no letter lies beyond the walk. A lottery scroll's walk is a
  permutation computed in Python, so it is held by the counts alone (below);
- one open scroll per campaign;
- every paid or refunded order has one letter per name, and no other order any (a paid order
  with no letter yet is given ALLOCATION_GRACE: the sweeper allocates it within minutes);
- the counters equal the rows: letters_allocated = the scroll's letters, steps_walked = its
  letters + its honour letters reached and not given;
- every issued certificate has its file (a bounded sample of files on the live storage, see
  certificate_files_checked; every file in a restored backup);
- receipt numbers run 1..n without a gap or a repeat per organisation, series and year, and the
  counter stands at the last.
"""

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

# A paid order still without letters this long after it was paid is a breach; before, it is
# the sweeper's work in progress (allocation.tasks.allocate_paid_orders, every minute).
ALLOCATION_GRACE = datetime.timedelta(minutes=60)
# Certificates' files checked a page at a time when all are checked (a restored backup).
FILES_PAGE = 5000


@dataclass(frozen=True)
class Breach:
    check: str
    message: str
    campaign: str = ""
    scroll: int | None = None
    position: str = ""
    order: int | None = None

    def __str__(self):
        return f"[{self.check}] {self.message}"


@dataclass
class IntegrityContext:
    """What the checks need besides the cursor: the moment the data stands for (the grace of
    unallocated orders is counted back from it), where certificates' files are, and how many of
    them to look at (None: every one)."""

    as_of: datetime.datetime
    certificates_storage: object = None
    certificate_files_checked: int | None = None
    checks_run: list[str] = field(default_factory=list)


def _rows(cursor, sql, params=None):
    cursor.execute(sql, params or {})
    return cursor.fetchall()


def _span(first, last):
    return str(first) if first == last else f"{first}–{last}"


def positions_held_twice(cursor, context):
    rows = _rows(
        cursor,
        """
        SELECT c.slug, s.number, l.position, 'letters' AS kind, count(*)
        FROM allocation_letter l
        JOIN scrolls_scroll s ON s.id = l.scroll_id
        JOIN scrolls_campaign c ON c.id = s.campaign_id
        GROUP BY c.slug, s.number, l.position
        HAVING count(*) > 1
        UNION ALL
        SELECT c.slug, s.number, l.position, 'honour', 1
        FROM allocation_letter l
        JOIN allocation_reservation r ON r.scroll_id = l.scroll_id AND r.position = l.position
        JOIN scrolls_scroll s ON s.id = l.scroll_id
        JOIN scrolls_campaign c ON c.id = s.campaign_id
        WHERE r.name_id IS DISTINCT FROM l.name_id
        ORDER BY 1, 2, 3
        """,
    )
    breaches = []
    for slug, number, position, kind, count in rows:
        params = {"campaign": slug, "scroll": number, "position": position, "count": count}
        if kind == "letters":
            message = _("Campaign %(campaign)s, scroll %(scroll)d, letter %(position)d: held by %(count)d letters.")
        else:
            message = _(
                "Campaign %(campaign)s, scroll %(scroll)d, letter %(position)d: an honour letter, written for "
                "another name than the one it was given to."
            )
        breaches.append(Breach("position_held_twice", message % params, slug, number, str(position)))
    return breaches


def positions_outside_scroll(cursor, context):
    rows = _rows(
        cursor,
        """
        SELECT c.slug, s.number, l.position, s.total_letters, 'letter'
        FROM allocation_letter l
        JOIN scrolls_scroll s ON s.id = l.scroll_id
        JOIN scrolls_campaign c ON c.id = s.campaign_id
        WHERE l.position < 1 OR l.position > s.total_letters
        UNION ALL
        SELECT c.slug, s.number, r.position, s.total_letters, 'honour'
        FROM allocation_reservation r
        JOIN scrolls_scroll s ON s.id = r.scroll_id
        JOIN scrolls_campaign c ON c.id = s.campaign_id
        WHERE r.position < 1 OR r.position > s.total_letters
        ORDER BY 1, 2, 3
        """,
    )
    breaches = []
    for slug, number, position, total, kind in rows:
        params = {"campaign": slug, "scroll": number, "position": position, "total": total}
        if kind == "letter":
            message = _(
                "Campaign %(campaign)s, scroll %(scroll)d, letter %(position)d: outside the scroll (1..%(total)d)."
            )
        else:
            message = _(
                "Campaign %(campaign)s, scroll %(scroll)d, honour letter %(position)d: outside the scroll (1..%(total)d)."
            )
        breaches.append(Breach("position_outside_scroll", message % params, slug, number, str(position)))
    return breaches


def scroll_gaps(cursor, context):
    # The positions each sequential scroll's walk has given out (1..steps_walked) that hold
    # neither a letter nor an honour letter waiting to be given, as ranges (a window over the
    # held positions, bounded by 0 and steps_walked + 1), then letters beyond the walk.
    rows = _rows(
        cursor,
        """
        WITH held AS (
            SELECT scroll_id, position FROM allocation_letter
            UNION
            SELECT scroll_id, position FROM allocation_reservation
            WHERE name_id IS NULL AND reached_at IS NOT NULL
        ), bounded AS (
            SELECT s.id AS scroll_id, h.position
            FROM scrolls_scroll s JOIN held h ON h.scroll_id = s.id
            WHERE s.lottery_seed IS NULL AND h.position BETWEEN 1 AND s.steps_walked
            UNION ALL
            SELECT id, 0 FROM scrolls_scroll WHERE lottery_seed IS NULL
            UNION ALL
            SELECT id, steps_walked + 1 FROM scrolls_scroll WHERE lottery_seed IS NULL
        ), walked AS (
            SELECT scroll_id, position, lead(position) OVER (PARTITION BY scroll_id ORDER BY position) AS next
            FROM bounded
        )
        SELECT c.slug, s.number, 'gap', w.position + 1, w.next - 1, s.steps_walked
        FROM walked w
        JOIN scrolls_scroll s ON s.id = w.scroll_id
        JOIN scrolls_campaign c ON c.id = s.campaign_id
        WHERE w.next > w.position + 1
        UNION ALL
        SELECT c.slug, s.number, 'beyond', l.position, l.position, s.steps_walked
        FROM allocation_letter l
        JOIN scrolls_scroll s ON s.id = l.scroll_id
        JOIN scrolls_campaign c ON c.id = s.campaign_id
        WHERE s.lottery_seed IS NULL AND l.position > s.steps_walked AND l.position <= s.total_letters
        ORDER BY 1, 2, 4
        """,
    )
    breaches = []
    for slug, number, kind, first, last, walked in rows:
        params = {"campaign": slug, "scroll": number, "positions": _span(first, last), "walked": walked}
        if kind == "gap":
            message = _(
                "Campaign %(campaign)s, scroll %(scroll)d, letters %(positions)s: a gap, neither written nor kept "
                "for an honouree, though the scroll's letters have passed them (%(walked)d given out)."
            )
        else:
            message = _(
                "Campaign %(campaign)s, scroll %(scroll)d, letter %(positions)s: written beyond the letters given "
                "out (%(walked)d)."
            )
        breaches.append(Breach("scroll_gap", message % params, slug, number, _span(first, last)))
    return breaches


def open_scrolls(cursor, context):
    rows = _rows(
        cursor,
        """
        SELECT c.slug, count(s.id)
        FROM scrolls_campaign c
        LEFT JOIN scrolls_scroll s ON s.campaign_id = c.id AND s.state = 'open'
        GROUP BY c.slug
        HAVING count(s.id) <> 1
        ORDER BY c.slug
        """,
    )
    return [
        Breach(
            "open_scrolls",
            _("Campaign %(campaign)s: %(count)d open scrolls, not one.") % {"campaign": slug, "count": count},
            slug,
        )
        for slug, count in rows
    ]


def order_letters(cursor, context):
    rows = _rows(
        cursor,
        """
        SELECT o.id, c.slug, o.status, count(DISTINCT n.id), count(l.id), count(DISTINCT l.name_id)
        FROM allocation_order o
        JOIN scrolls_campaign c ON c.id = o.campaign_id
        JOIN allocation_name n ON n.order_id = o.id
        LEFT JOIN allocation_letter l ON l.name_id = n.id
        GROUP BY o.id, c.slug, o.status, o.paid_at
        HAVING CASE
            WHEN o.status IN ('paid', 'refunded') THEN
                (count(l.id) <> count(DISTINCT n.id) OR count(DISTINCT l.name_id) <> count(DISTINCT n.id))
                AND NOT (count(l.id) = 0 AND o.paid_at > %(since)s)
            ELSE count(l.id) > 0
        END
        ORDER BY o.id
        """,
        {"since": context.as_of - ALLOCATION_GRACE},
    )
    breaches = []
    for order_id, slug, status, names, letters, named in rows:
        params = {"order": order_id, "campaign": slug, "status": status, "names": names, "letters": letters}
        if status in ("paid", "refunded"):
            if letters == names and named != names:
                params["named"] = named
                message = _(
                    "Order %(order)d (campaign %(campaign)s, %(status)s): %(names)d names, %(letters)d letters, "
                    "but only %(named)d names hold one."
                )
            else:
                message = _(
                    "Order %(order)d (campaign %(campaign)s, %(status)s): %(names)d names but %(letters)d letters."
                )
        else:
            message = _(
                "Order %(order)d (campaign %(campaign)s, %(status)s): holds %(letters)d letters, and may hold none."
            )
        breaches.append(Breach("order_letters", message % params, slug, order=order_id))
    return breaches


def scroll_counters(cursor, context):
    rows = _rows(
        cursor,
        """
        SELECT c.slug, s.number, s.letters_allocated, s.steps_walked,
               coalesce(l.letters, 0), coalesce(l.letters, 0) + coalesce(r.waiting, 0)
        FROM scrolls_scroll s
        JOIN scrolls_campaign c ON c.id = s.campaign_id
        LEFT JOIN (SELECT scroll_id, count(*) AS letters FROM allocation_letter GROUP BY scroll_id) l
            ON l.scroll_id = s.id
        LEFT JOIN (
            SELECT scroll_id, count(*) AS waiting FROM allocation_reservation
            WHERE reached_at IS NOT NULL AND name_id IS NULL GROUP BY scroll_id
        ) r ON r.scroll_id = s.id
        WHERE s.letters_allocated <> coalesce(l.letters, 0)
           OR s.steps_walked <> coalesce(l.letters, 0) + coalesce(r.waiting, 0)
        ORDER BY 1, 2
        """,
    )
    return [
        Breach(
            "scroll_counters",
            _(
                "Campaign %(campaign)s, scroll %(scroll)d: counts %(allocated)d letters and %(walked)d steps; its "
                "rows hold %(letters)d letters and %(steps)d steps (letters and honour letters waiting)."
            )
            % {
                "campaign": slug,
                "scroll": number,
                "allocated": allocated,
                "walked": walked,
                "letters": letters,
                "steps": steps,
            },
            slug,
            number,
        )
        for slug, number, allocated, walked, letters, steps in rows
    ]


_CERTIFICATES = """
    SELECT cert.id, o.id, c.slug, cert.file
    FROM certificates_certificate cert
    JOIN allocation_name n ON n.id = cert.name_id
    JOIN allocation_order o ON o.id = n.order_id
    JOIN scrolls_campaign c ON c.id = o.campaign_id
"""


def _certificates_to_look_at(cursor, context):
    """Every certificate (a page at a time) or a bounded sample: the newest half (just
    written, the likeliest to be lost in a failed write) and a random half of the rest."""
    if context.certificate_files_checked is None:
        after = 0
        while True:
            page = _rows(
                cursor,
                _CERTIFICATES + " WHERE cert.id > %(after)s AND cert.file <> '' ORDER BY cert.id LIMIT %(page)s",
                {"after": after, "page": FILES_PAGE},
            )
            yield from page
            if len(page) < FILES_PAGE:
                return
            after = page[-1][0]
    limit = context.certificate_files_checked
    if limit <= 0:
        return
    newest = _rows(
        cursor, _CERTIFICATES + " WHERE cert.file <> '' ORDER BY cert.id DESC LIMIT %(n)s", {"n": (limit + 1) // 2}
    )
    yield from newest
    if newest and len(newest) == (limit + 1) // 2:
        # A random sample below the newest, in SQL (no sort of the whole table: ids drawn at random).
        bounds = _rows(cursor, "SELECT min(id) FROM certificates_certificate")
        low, high = bounds[0][0], newest[-1][0] - 1
        if low is not None and high >= low:
            ids = random.sample(range(low, high + 1), min(limit // 2, high - low + 1))
            yield from _rows(cursor, _CERTIFICATES + " WHERE cert.id = ANY(%(ids)s) AND cert.file <> ''", {"ids": ids})


def certificate_files(cursor, context):
    breaches = []
    for certificate_id, order_id, slug, _file in _rows(
        cursor, _CERTIFICATES + " WHERE cert.file = '' ORDER BY cert.id"
    ):
        params = {"certificate": certificate_id, "order": order_id, "campaign": slug}
        breaches.append(
            Breach(
                "certificate_file",
                _("Certificate %(certificate)d (order %(order)d, campaign %(campaign)s): issued without a file.")
                % params,
                slug,
                order=order_id,
            )
        )
    storage = context.certificates_storage
    if storage is None:
        return breaches
    for certificate_id, order_id, slug, file in _certificates_to_look_at(cursor, context):
        if not storage.exists(file):
            params = {"certificate": certificate_id, "order": order_id, "campaign": slug}
            breaches.append(
                Breach(
                    "certificate_file",
                    _("Certificate %(certificate)d (order %(order)d, campaign %(campaign)s): its file is missing.")
                    % params,
                    slug,
                    order=order_id,
                )
            )
    return breaches


def receipt_numbers(cursor, context):
    rows = _rows(
        cursor,
        """
        WITH issued AS (
            SELECT organisation_id, kind, year, number,
                   lead(number) OVER w AS next, row_number() OVER w AS nth
            FROM receipts_receipt
            WINDOW w AS (PARTITION BY organisation_id, kind, year ORDER BY number)
        ), series AS (
            SELECT organisation_id, kind, year, max(number) AS last FROM receipts_receipt GROUP BY 1, 2, 3
        )
        SELECT o.slug, i.kind, i.year, 'gap', i.number + 1, i.next - 1
        FROM issued i JOIN receipts_organisation o ON o.id = i.organisation_id
        WHERE i.next > i.number + 1
        UNION ALL
        SELECT o.slug, i.kind, i.year, 'gap', 1, i.number - 1
        FROM issued i JOIN receipts_organisation o ON o.id = i.organisation_id
        WHERE i.nth = 1 AND i.number > 1
        UNION ALL
        SELECT o.slug, i.kind, i.year, 'twice', i.number, i.number
        FROM issued i JOIN receipts_organisation o ON o.id = i.organisation_id
        WHERE i.next = i.number
        UNION ALL
        SELECT o.slug, coalesce(s.kind, k.series), coalesce(s.year, k.year), 'counter', s.last, k.last_number
        FROM series s
        FULL JOIN receipts_receiptcounter k
            ON k.organisation_id = s.organisation_id AND k.series = s.kind AND k.year = s.year
        JOIN receipts_organisation o ON o.id = coalesce(s.organisation_id, k.organisation_id)
        WHERE k.last_number IS DISTINCT FROM s.last
        ORDER BY 1, 2, 3, 5
        """,
    )
    breaches = []
    for slug, series, year, kind, first, last in rows:
        params = {"organisation": slug, "series": series, "year": year}
        if kind == "gap":
            params["numbers"] = _span(first, last)
            message = _("Organisation %(organisation)s, %(series)s %(year)d: numbers %(numbers)s missing.")
        elif kind == "twice":
            params["number"] = first
            message = _("Organisation %(organisation)s, %(series)s %(year)d: number %(number)d given twice.")
        else:
            params["last"], params["counter"] = first or 0, last or 0
            message = _(
                "Organisation %(organisation)s, %(series)s %(year)d: the counter stands at %(counter)d, the last "
                "number issued is %(last)d."
            )
        breaches.append(Breach("receipt_numbers", message % params, position=str(params.get("numbers", ""))))
    return breaches


# The checks in the order they are run and reported.
CHECKS: dict[str, Callable] = {
    "position_held_twice": positions_held_twice,
    "position_outside_scroll": positions_outside_scroll,
    "scroll_gap": scroll_gaps,
    "open_scrolls": open_scrolls,
    "order_letters": order_letters,
    "scroll_counters": scroll_counters,
    "certificate_file": certificate_files,
    "receipt_numbers": receipt_numbers,
}


def breaches_find(*, cursor, context: IntegrityContext) -> list[Breach]:
    """Every breach of every invariant, check by check."""
    breaches = []
    for code, check in CHECKS.items():
        breaches.extend(check(cursor, context))
        context.checks_run.append(code)
    return breaches


def counts_read(*, cursor) -> dict:
    """What a backup holds, counted: compared after a restore with what was dumped."""
    (row,) = _rows(
        cursor,
        """
        SELECT
            (SELECT count(*) FROM scrolls_campaign),
            (SELECT count(*) FROM scrolls_scroll),
            (SELECT count(*) FROM allocation_name),
            (SELECT count(*) FROM allocation_letter),
            (SELECT count(*) FROM allocation_reservation),
            (SELECT count(*) FROM certificates_certificate),
            (SELECT count(*) FROM payments_payment),
            (SELECT count(*) FROM receipts_receipt WHERE kind = 'receipt'),
            (SELECT count(*) FROM receipts_receipt WHERE kind = 'cancellation')
        """,
    )
    keys = [
        "campaigns",
        "scrolls",
        "names",
        "letters",
        "honour_letters",
        "certificates",
        "payments",
        "receipts",
        "cancellation_notes",
    ]
    counts = dict(zip(keys, row))
    statuses = _rows(cursor, "SELECT status, count(*) FROM allocation_order GROUP BY status ORDER BY status")
    counts["orders"] = {status: count for status, count in statuses}
    return counts
