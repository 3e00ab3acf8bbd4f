"""Personal data kind by kind, each with its shredder (as pretix's data shredders): what an app
holds about a person, exported as JSON, erased on request, and erased once kept long enough.

An app that holds personal data answers `shredders_register` (connected in its AppConfig.ready)
with its shredders; the privacy app asks them all, so that no app imports the one above it, and
a kind of data added later is exported and erased with the rest by adding its shredder."""

import datetime
from dataclasses import dataclass, field

from django.dispatch import Signal

# Sent by the privacy app; each receiver returns a list of Shredder instances.
shredders_register = Signal()


@dataclass(frozen=True)
class Subject:
    """Whom an export or an erasure is about: an email address (lower case; "" for the orders
    a retention erases by age), the orders bought with it, and the accounts that carry it."""

    email: str = ""
    order_ids: tuple[int, ...] = field(default=())
    user_ids: tuple[int, ...] = field(default=())


class Shredder:
    """One kind of personal data. `export` says everything held of this kind about the subject
    (JSON-ready: text, numbers, lists and dicts); `erase` erases it, inside the caller's
    transaction, and returns how many rows changed; `expire` erases what has been kept longer
    than the settings allow (the daily task). `erase_refusal` says why an erasure must not go
    ahead (nothing is erased then), or returns "". Shredders run in `position` order: one that
    must see the data before another erases it comes first."""

    identifier = ""  # the export's section, and the key of the counts
    verbose_name = ""  # what staff read (translatable)
    position = 100

    def export(self, *, subject: Subject):
        return None

    def erase_refusal(self, *, subject: Subject) -> str:
        return ""

    def erase(self, *, subject: Subject, now: datetime.datetime) -> int:
        return 0

    def expire(self, *, now: datetime.datetime) -> int:
        return 0


def shredders() -> list[Shredder]:
    """Every app's shredders, in the order they run."""
    found = [shredder for _, answer in shredders_register.send(sender=Shredder) for shredder in answer or ()]
    return sorted(found, key=lambda shredder: (shredder.position, shredder.identifier))
