"""What each share card shows, read from what its page already reads: the cached progress for a
campaign, the scroll row for a scroll, the public verification of a certificate for a letter.
A card's version is a digest of what it shows, so its URL changes when its picture does."""

import hashlib
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.http import Http404
from django.urls import reverse

from allocation.selectors import letter_public
from certificates.selectors import certificate_by_code, certificate_verify_describe
from scrolls.models import Campaign
from scrolls.selectors import campaign_open_scroll, campaigns_progress, scroll_public

# Raised when the drawing itself changes, so that every card's URL changes with it.
DRAWING_VERSION = 1
KINDS = ("site", "campaign", "scroll", "letter", "position")


@dataclass(frozen=True)
class ShareCard:
    kind: str  # one of KINDS
    args: dict = field(default_factory=dict)  # the URL's arguments, besides the version
    content: dict = field(default_factory=dict)  # what is drawn, and nothing else

    @property
    def version(self) -> str:
        shown = json.dumps([DRAWING_VERSION, self.kind, self.content], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(shown.encode()).hexdigest()[:16]

    @property
    def path(self) -> str:
        return reverse(f"sharing:{self.kind}", kwargs={**self.args, "version": self.version})

    @property
    def url(self) -> str:
        return settings.SITE_URL + self.path


def percent_bucket(*, written: int, total: int) -> int:
    """The whole percentage of a scroll written, rounded down (100 only when it is full)."""
    return 100 * written // total if total else 0


def site_card() -> ShareCard:
    return ShareCard(kind="site")


def _progress_content(*, name_he, name, scroll_number, written, total, show_number) -> dict:
    percent = None if total is None else percent_bucket(written=written, total=total)
    return {
        "name_he": name_he,
        "name": name,
        "percent": percent,
        "scroll_number": scroll_number if show_number and percent is not None else None,
    }


def campaign_card(*, slug: str) -> ShareCard:
    """A campaign's card, from the cached progress (no query): its open scroll's progress."""
    campaign = campaigns_progress().by_slug.get(slug)
    if campaign is None:  # a campaign newer than the cached progress: from its rows
        row = Campaign.objects.filter(slug=slug).first()
        if row is None:
            raise Http404
        open_scroll = campaign_open_scroll(campaign=row)
        campaign = {
            "name_he": row.name_he,
            "name": row.name,
            "active_scroll": open_scroll
            and {
                "number": open_scroll.number,
                "letters_allocated": open_scroll.letters_allocated,
                "total_letters": open_scroll.total_letters,
            },
        }
    scroll = campaign["active_scroll"] or {}
    content = _progress_content(
        name_he=campaign["name_he"],
        name=campaign["name"],
        scroll_number=scroll.get("number"),
        written=scroll.get("letters_allocated", 0),
        total=scroll.get("total_letters"),
        show_number=False,
    )
    return ShareCard(kind="campaign", args={"slug": slug}, content=content)


def scroll_card_of(*, scroll) -> ShareCard:
    """The card of a scroll the page already holds (its campaign selected with it)."""
    content = _progress_content(
        name_he=scroll.campaign.name_he,
        name=scroll.campaign.name,
        scroll_number=scroll.number,
        written=scroll.letters_allocated,
        total=scroll.total_letters,
        show_number=True,
    )
    return ShareCard(kind="scroll", args={"slug": scroll.campaign.slug, "number": scroll.number}, content=content)


def scroll_card(*, slug: str, number: int) -> ShareCard:
    return scroll_card_of(scroll=scroll_public(slug=slug, number=number))


def letter_card_of(*, certificate, campaign, letter: dict | None) -> ShareCard:
    """A letter's card: what its public verification page shows of the letter (the letter, its
    word, parsha and position, or only the parsha where the campaign discloses no more), never
    the name written in it nor anything of the buyer."""
    content = _letter_content(campaign=campaign, letter=letter or {})
    return ShareCard(kind="letter", args={"code": certificate.code}, content=content)


def _letter_content(*, campaign, letter: dict) -> dict:
    lines = [line for line in (letter.get("word"), letter.get("parsha_he")) if line]
    position, total = letter.get("position"), letter.get("total")
    figures = f"{position:,} / {total:,}" if position and total else ""
    if letter.get("scroll_number"):
        figures = f"#{letter['scroll_number']}  ·  {figures}" if figures else f"#{letter['scroll_number']}"
    return {
        "letter": letter.get("letter") or "",
        "custom": campaign.custom,
        "name_he": campaign.name_he,
        "lines_he": lines,
        "figures": figures,
    }


def position_card_of(*, scroll, position: int, total: int, identity: dict) -> ShareCard:
    """The card of a letter's own page (a position of a scroll): the letter, its word, parsha and
    position, as the letter's card; never the name, even a listed one."""
    letter = {**identity, "scroll_number": scroll.number, "position": position, "total": total}
    content = _letter_content(campaign=scroll.campaign, letter=letter)
    args = {"slug": scroll.campaign.slug, "number": scroll.number, "position": position}
    return ShareCard(kind="position", args=args, content=content)


def position_card(*, slug: str, number: int, position: int) -> ShareCard:
    """Only a position the letter's public page shows (a name holds it, the campaign discloses it)."""
    scroll = scroll_public(slug=slug, number=number)
    described = letter_public(scroll=scroll, position=position)
    if described is None:
        raise Http404
    return position_card_of(
        scroll=scroll, position=described["position"], total=described["total"], identity=described["identity"]
    )


def letter_card(*, code: str) -> ShareCard:
    certificate = certificate_by_code(code)
    if certificate is None:
        raise Http404
    described = certificate_verify_describe(certificate=certificate)
    return letter_card_of(certificate=certificate, campaign=described["campaign"], letter=described["letter"])
