"""The personal data of the siyum (core.privacy; the privacy app runs every shredder): the
addresses told of a siyum."""

import datetime

from django.conf import settings
from django.utils.translation import gettext_lazy

from core.privacy import Shredder, Subject

from .models import SiyumNotice


class SiyumNoticesShredder(Shredder):
    """One row per address told (or to be told) of a siyum. Exported; erased by deleting the
    address's rows (a notice not yet sent is not sent), and those of siyumim held more than
    PERSONAL_DATA_RETENTION_YEARS ago."""

    identifier = "siyum_notices"
    verbose_name = gettext_lazy("Siyum notices")
    position = 90

    def export(self, *, subject: Subject):
        if not subject.email:
            return []
        notices = SiyumNotice.objects.filter(email=subject.email).select_related("siyum__scroll__campaign")
        return [
            {
                "campaign": notice.siyum.scroll.campaign.slug,
                "scroll": notice.siyum.scroll.number,
                "held_on": notice.siyum.held_on.isoformat(),
                "place": notice.siyum.place,
                "letters": notice.letters,
                "sent_at": notice.sent_at.isoformat() if notice.sent_at else None,
            }
            for notice in notices.order_by("pk")
        ]

    def erase(self, *, subject: Subject, now: datetime.datetime) -> int:
        if not subject.email:
            return 0
        deleted, _ = SiyumNotice.objects.filter(email=subject.email).delete()
        return deleted

    def expire(self, *, now: datetime.datetime) -> int:
        years = settings.PERSONAL_DATA_RETENTION_YEARS
        if not years:
            return 0
        before = now.date().replace(year=now.year - years, day=min(now.day, 28))
        deleted, _ = SiyumNotice.objects.filter(siyum__held_on__lt=before).delete()
        return deleted


def siyum_shredders(sender, **kwargs) -> list[Shredder]:
    """siyum's answer to core.privacy.shredders_register (SiyumConfig.ready)."""
    return [SiyumNoticesShredder()]
