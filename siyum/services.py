"""The siyum: a full scroll is completed, its remaining honour letters given, and everyone holding
a letter in it is told, once each.

Holding the siyum is one transaction under the campaign and scroll locks (allocation's order):
the remaining honour letters are written, the Siyum row is created (one per scroll: a second is
refused by the database), the scroll becomes completed (a check constraint wants every position
written), and the addresses to tell are listed, one SiyumNotice row each. The notices then go out
in throttled batches (siyum.tasks): each is sent in the transaction that records it, under its
row's lock, so a resumed or concurrent run skips what was sent. A worker that dies after handing
a message to the mail server and before its commit sends that one again (at least once, never
lost), as for the certificates' email.
"""

import datetime
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Case, Count, Exists, F, Max, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce, Lower, NullIf
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from allocation.models import Letter, OrderChannel, Reservation
from allocation.selectors import addresses_language
from allocation.services import campaign_today, name_clean, reservation_give, scroll_lock
from core import locks
from core.locks import advisory_lock_try
from core.tasks import enqueue_on_commit
from scrolls.models import ScrollState

from .models import Siyum, SiyumNotice

logger = logging.getLogger(__name__)


def scroll_siyum_hold(
    *,
    scroll_id: int,
    held_on: datetime.date,
    place: str,
    notes: str = "",
    honours: dict[int, dict],
    held_by,
) -> Siyum:
    """Record the siyum of a full scroll: give its remaining honour letters (`honours` maps each
    position to {"name": {...the honouree's name...}, "email": "..."}; every honour letter still
    waiting must be given here), complete the scroll, and queue the notices to everyone holding
    a letter in it. Staff only; refused for a scroll that is not full, and a second time."""
    if not getattr(held_by, "is_staff", False):
        raise PermissionDenied(_("Only staff may hold a siyum."))
    place, notes = (place or "").strip(), (notes or "").strip()
    with transaction.atomic():
        scroll = scroll_lock(scroll_id=scroll_id)
        if scroll.state == ScrollState.COMPLETED or Siyum.objects.filter(scroll=scroll).exists():
            raise ValidationError(_("The siyum of this scroll has already been held."))
        if scroll.state != ScrollState.FULL:
            raise ValidationError(
                _("Scroll %(number)d is not full yet: its siyum is held once every letter but the honour "
                  "letters is taken.") % {"number": scroll.number}
            )  # fmt: skip
        errors = {}
        if not place:
            errors["place"] = [_("Say where the siyum was held.")]
        if held_on > campaign_today(campaign=scroll.campaign):
            errors["held_on"] = [_("Record the siyum once it has been held.")]
        waiting = list(Reservation.objects.filter(scroll=scroll, name__isnull=True).order_by("position"))
        waiting_positions = {reservation.position for reservation in waiting}
        missing = [position for position in sorted(waiting_positions) if position not in honours]
        if missing:
            errors["honours"] = [
                _("Give every honour letter still waiting: letters %(positions)s are not given yet.")
                % {"positions": ", ".join(f"{position:,}" for position in missing)}
            ]
        unknown = sorted(set(honours) - waiting_positions)
        if unknown:
            errors.setdefault("honours", []).append(
                _("Letters %(positions)s are not honour letters waiting in this scroll.")
                % {"positions": ", ".join(f"{position:,}" for position in unknown)}
            )
        for position in sorted(waiting_positions & set(honours)):
            try:  # every name checked before anything is written, so all problems show at once
                name_clean(data=honours[position].get("name") or {}, campaign=scroll.campaign)
            except ValidationError as error:
                errors[f"honour_{position}"] = error.messages
        if errors:
            raise ValidationError(errors)

        for reservation in waiting:
            honour = honours[reservation.position]
            reservation_give(
                reservation_id=reservation.pk, name=honour["name"], email=honour.get("email", ""), given_by=held_by
            )
        now = timezone.now()
        siyum = Siyum(scroll=scroll, held_on=held_on, place=place, notes=notes, held_by=held_by)
        siyum._history_user = held_by  # the audit names the person, in a request or not
        siyum.save()
        scroll.refresh_from_db(fields=["letters_allocated"])
        scroll.state, scroll.completed_at = ScrollState.COMPLETED, now
        scroll._history_user = held_by
        # The database refuses a completed scroll with a position not written (scroll_completed_is_whole).
        scroll.save(update_fields=["state", "completed_at"])
        listed = _siyum_notices_list(siyum=siyum)
        from .tasks import send_siyum_notices

        enqueue_on_commit(send_siyum_notices, siyum.pk)
    logger.info("Siyum of %s held on %s; %d addresses to tell", scroll, held_on, listed)
    return siyum


def _siyum_notices_list(*, siyum: Siyum) -> int:
    """One notice per address holding a letter in the scroll: the buyer's email of each order,
    or, for an order registered without one, the address of the shliach who registered it (an
    honour letter without an email has nobody to tell). Returns how many."""
    holders = (
        Letter.objects.filter(scroll_id=siyum.scroll_id)
        .annotate(
            address=Lower(
                Coalesce(
                    NullIf(F("name__order__buyer_email"), Value("")),
                    Case(
                        When(~Q(name__order__channel=OrderChannel.HONOUR), then=F("name__order__created_by__email")),
                        default=Value(""),
                    ),
                )
            )
        )
        .filter(address__gt="")
        .values("address")
        .annotate(letters=Count("id"))
        .order_by("address")
    )
    notices = SiyumNotice.objects.bulk_create(
        (SiyumNotice(siyum=siyum, email=row["address"], letters=row["letters"]) for row in holders.iterator()),
        batch_size=5000,
    )
    return len(notices)


def siyum_notices_send(*, siyum_id: int, limit: int) -> int | None:
    """Send the next `limit` notices of a siyum, each in the transaction that records it.
    Returns how many addresses are still waiting, or None when another run holds the siyum."""
    siyum = Siyum.objects.select_related("scroll__campaign").get(pk=siyum_id)
    with advisory_lock_try(model=SiyumNotice, namespace=locks.SIYUM_NOTICES, object_id=siyum_id) as acquired:
        if not acquired:
            logger.info("The notices of siyum %s are being sent by another worker", siyum_id)
            return None
        batch = list(
            SiyumNotice.objects.filter(siyum=siyum, sent_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        sent = 0
        # Each address is written to in its own language, looked up for the batch at once.
        languages = addresses_language(emails=SiyumNotice.objects.filter(id__in=batch).values_list("email", flat=True))
        with get_connection() as mail:  # one session with the mail server for the batch
            for notice_id in batch:
                with transaction.atomic():
                    notice = SiyumNotice.objects.select_for_update().get(pk=notice_id)
                    if notice.sent_at is not None:
                        continue
                    language = languages.get(notice.email.lower(), settings.LANGUAGE_CODE)
                    _siyum_notice_message(siyum=siyum, notice=notice, connection=mail, language=language).send()
                    notice.sent_at = timezone.now()
                    notice.save(update_fields=["sent_at"])
                    sent += 1
        waiting = SiyumNotice.objects.filter(siyum=siyum, sent_at__isnull=True).count()
    logger.info("Siyum %s: %d notices sent, %d waiting", siyum_id, sent, waiting)
    return waiting


def _siyum_notice_message(
    *, siyum: Siyum, notice: SiyumNotice, connection, language: str = settings.LANGUAGE_CODE
) -> EmailMultiAlternatives:
    scroll = siyum.scroll
    path = reverse("scroll-detail", kwargs={"slug": scroll.campaign.slug, "number": scroll.number})
    context = {"siyum": siyum, "scroll": scroll, "campaign": scroll.campaign, "letters": notice.letters,
               "scroll_url": f"{settings.SITE_URL}{path}"}  # fmt: skip
    with translation.override(language):
        subject = _("The siyum of scroll %(number)d of the %(campaign)s") % {
            "number": scroll.number,
            "campaign": scroll.campaign.name,
        }
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string("emails/siyum_notice.txt", context),
            to=[notice.email],
            connection=connection,
        )
        message.attach_alternative(render_to_string("emails/siyum_notice.html", context), "text/html")
    return message


def siyums_notices_stalled(*, older_than_seconds: int = 900) -> list[int]:
    """Siyumim with notices still waiting and none sent for a while: the task was lost (the
    broker was down, or retries ran out). The sweeper queues them again."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    waiting = SiyumNotice.objects.filter(siyum=OuterRef("pk"), sent_at__isnull=True)
    return list(
        Siyum.objects.filter(Exists(waiting), created_at__lte=cutoff)
        .annotate(last_sent=Max("notices__sent_at"))
        .filter(Q(last_sent__isnull=True) | Q(last_sent__lte=cutoff))
        .values_list("id", flat=True)
    )
