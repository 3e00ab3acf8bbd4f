from django.conf import settings
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Lower

from accounts.models import Profile
from accounts.selectors import language_supported
from scrolls.models import Campaign, TextLetter
from scrolls.selectors import (
    TEXT_LOOKUP_BATCH,
    letter_identity,
    text_letters_at,
    viewer_sees_exact_letter,
)

from .models import Letter, Name, Order, OrderStatus, Reservation, name_search_key
from .validators import hebrew_search_key

# The public listing of a scroll's listed names, a page at a time; what may be typed to search.
LISTED_PAGE_SIZE = 50
SEARCH_MAX_LENGTH = 100
LOOKUP_MAX_RESULTS = 20


def order_visible_to(*, user) -> QuerySet:
    """Orders a user may read: staff see all, everyone else only the orders they created."""
    orders = Order.objects.select_related("campaign")
    if user.is_staff or user.has_perm("allocation.view_all_orders"):
        return orders
    if not user.is_authenticated:
        return orders.none()
    return orders.filter(created_by=user)


def order_with_letters(queryset: QuerySet) -> QuerySet:
    """Orders with their team; order_letters_describe reads each one's names with their letters
    in one query."""
    return queryset.select_related("team")


def names_letters_describe(*, names: list[Name], campaign: Campaign, viewer, letters_read: bool = False) -> list[dict]:
    """For each name (in the order given): {"name": name, "letter": ...}, the letter being
    None until allocated, else scroll_number, position, total, letter, word, book, book_he,
    chapter, verse, parsha, parsha_he (text fields None while no text is loaded for the
    scroll), or only scroll_number, parsha, parsha_he where the campaign tells buyers only the
    parsha and the viewer is not staff. One query per 5,000 names for the letters and as
    many for the text: never one per name. `letters_read`: the names were read with their
    letters and scrolls (select_related("letter__scroll")), which are not read again."""
    letters = {}
    if letters_read:
        letters = {name.pk: letter for name in names if (letter := getattr(name, "letter", None)) is not None}
    else:
        name_ids = [name.pk for name in names]
        for start in range(0, len(name_ids), TEXT_LOOKUP_BATCH):
            batch = name_ids[start : start + TEXT_LOOKUP_BATCH]
            letters |= {
                letter.name_id: letter for letter in Letter.objects.filter(name_id__in=batch).select_related("scroll")
            }
    exact = viewer_sees_exact_letter(campaign=campaign, viewer=viewer)
    text = text_letters_at(
        wanted=[(letter.scroll.edition_id, letter.position) for letter in letters.values() if letter.scroll.edition_id]
    )
    described = []
    for name in names:
        letter = letters.get(name.pk)
        if letter is None:
            described.append({"name": name, "letter": None})
            continue
        identity = {"scroll_number": letter.scroll.number}
        if exact:
            identity |= {"position": letter.position, "total": letter.scroll.total_letters}
        text_letter = text.get((letter.scroll.edition_id, letter.position))
        identity |= letter_identity(text_letter=text_letter, exact=exact)
        described.append({"name": name, "letter": identity})
    return described


def order_letters_describe(*, order: Order, viewer, names_also: tuple[str, ...] = ()) -> list[dict]:
    """Every name of an order in id order with its letter, as names_letters_describe says, for
    the done page, the API and certificates. `viewer` is the user looking (None: the public).
    The names, their letters and scrolls are read in one query; `names_also` names more of each
    name's single relations to read in it (a higher app's, such as "certificate")."""
    names = list(order.names.select_related("letter__scroll", *names_also).order_by("id"))
    return names_letters_describe(names=names, campaign=order.campaign, viewer=viewer, letters_read=True)


def letters_with_text(queryset: QuerySet) -> QuerySet:
    """Letters annotated with what is written at their position (text_letter, text_word,
    text_book, text_chapter, text_verse; None while no text is loaded), for staff lists.
    Each is one indexed read per row."""
    at_position = TextLetter.objects.filter(edition_id=OuterRef("scroll__edition_id"), position=OuterRef("position"))
    return queryset.annotate(
        **{
            f"text_{field}": Subquery(at_position.values(field)[:1])
            for field in ("letter", "word", "book", "chapter", "verse")
        }
    )


def scroll_reserved_positions(*, scroll_id: int) -> frozenset[int]:
    """Every reserved position of a scroll, given or not: the walk steps over all of them. Read
    once per allocation under the campaign lock (reservations are made under it too)."""
    return frozenset(Reservation.objects.filter(scroll_id=scroll_id).values_list("position", flat=True))


def addresses_language(*, emails) -> dict[str, str]:
    """The language to write to each address (lower-cased) in: the choice of the user with that
    address, else that of the latest order bought with it that recorded one, else the site's.
    Two queries, whatever the number of addresses (the siyum's notices ask per batch)."""
    emails = {email.lower() for email in emails}
    languages = {}
    chosen = (
        Profile.objects.annotate(address=Lower("user__email"))
        .filter(address__in=emails, user__is_active=True)
        .exclude(language="")
        .order_by("address", "-user__last_login")
        .values_list("address", "language")
    )
    for address, language in chosen:
        if not languages.get(address):
            languages[address] = language_supported(language)
    ordered = (
        Order.objects.annotate(address=Lower("buyer_email"))
        .filter(address__in=emails - {address for address, language in languages.items() if language})
        .exclude(language="")
        .order_by("address", "-id")
        .values_list("address", "language")
    )
    for address, language in ordered:
        if not languages.get(address):
            languages[address] = language_supported(language)
    return {email: languages.get(email) or settings.LANGUAGE_CODE for email in emails}


# --- Listed names: the only names any public page shows (issue 19) ---------------------------


def _listed_letters() -> QuerySet:
    """Letters whose name its buyer chose to list, with the name's search keys (the same folds
    as the index name_listed_search)."""
    return (
        Letter.objects.filter(name__listed=True)
        .annotate(name_key=name_search_key("name__hebrew_name"), parent_key=name_search_key("name__parent_hebrew_name"))
        .select_related("name")
    )


def scroll_listed_letters(*, scroll_id: int, hebrew_name: str = "", parent_hebrew_name: str = "") -> QuerySet:
    """A scroll's letters held by listed names, by position; those whose Hebrew name and
    parent's name begin with what was typed (with or without final letters and niqqud). Never
    an unlisted name."""
    letters = _listed_letters().filter(scroll_id=scroll_id)
    name_key = hebrew_search_key(hebrew_name)[:SEARCH_MAX_LENGTH]
    parent_key = hebrew_search_key(parent_hebrew_name)[:SEARCH_MAX_LENGTH]
    if name_key:
        letters = letters.filter(name_key__startswith=name_key)
    if parent_key:
        letters = letters.filter(parent_key__startswith=parent_key)
    return letters.order_by("position")


def listed_letters_find(*, hebrew_name: str, parent_hebrew_name: str) -> list[Letter]:
    """ "Do I have a letter?" by name: the letters of listed names that are this Hebrew name and
    parent's name (whole, read as the search reads them), in every campaign; at most
    LOOKUP_MAX_RESULTS. Never an unlisted name."""
    name_key = hebrew_search_key(hebrew_name)[:SEARCH_MAX_LENGTH]
    parent_key = hebrew_search_key(parent_hebrew_name)[:SEARCH_MAX_LENGTH]
    if not name_key or not parent_key:
        return []
    return list(
        _listed_letters()
        .filter(name_key=name_key, parent_key=parent_key)
        .select_related("scroll__campaign")
        .order_by("scroll__campaign__name", "scroll__number", "position")[:LOOKUP_MAX_RESULTS]
    )


def letter_public(*, scroll, position: int) -> dict | None:
    """A letter's public page: the letter of the text at the position, and its name only when
    listed (with its dedication). None where no name holds the position, or where the campaign
    discloses only the parsha (a public page by position would tell more)."""
    if not viewer_sees_exact_letter(campaign=scroll.campaign, viewer=None):
        return None
    letter = Letter.objects.filter(scroll=scroll, position=position).select_related("name").first()
    if letter is None:
        return None
    text_letter = None
    if scroll.edition_id:
        text_letter = text_letters_at(wanted=[(scroll.edition_id, position)]).get((scroll.edition_id, position))
    return {
        "position": position,
        "total": scroll.total_letters,
        "identity": letter_identity(text_letter=text_letter, exact=True),
        "name": letter.name if letter.name.listed else None,
    }


# --- Teams: their letters, counted from their paid orders ----------------------------------


def teams_with_letters(teams: QuerySet, *, paid_before=None) -> QuerySet:
    """`teams` (teams.Team) annotated with `letters`: the names of their paid orders, whichever
    door the orders came through (paid before `paid_before`, if given: a week's start). One
    correlated count a team, on the orders' team index."""
    names = Name.objects.filter(order__team=OuterRef("pk"), order__status=OrderStatus.PAID)
    if paid_before is not None:
        names = names.filter(order__paid_at__lt=paid_before)
    count = names.order_by().values("order__team").annotate(count=Count("pk")).values("count")
    return teams.annotate(letters=Coalesce(Subquery(count), 0))


def team_letters(*, team) -> int:
    """One team's letters, as teams_with_letters counts them."""
    return Name.objects.filter(order__team=team, order__status=OrderStatus.PAID).count()
