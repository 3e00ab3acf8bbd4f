"""A person's data, found by their email address: exported as JSON, erased on request (audited),
and erased once kept longer than the settings allow. Each kind of data has its shredder
(core.privacy); these services run them all and record what was done (PrivacyLog)."""

import datetime

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.selectors import language_supported
from allocation.models import Order
from allocation.selectors import addresses_language
from core import locks
from core.privacy import Subject, shredders

from .models import PrivacyAction, PrivacyLog
from .selectors import address_clean, address_hash, personal_data_held, personal_data_subject, rows_counted

EXPORT_FORMAT = "unitysefer-personal-data/1"


def personal_data_export(
    *, email: str, action: str = PrivacyAction.EXPORT, by=None, operator: str = "", now=None
) -> dict:
    """Everything held about the address, as JSON-ready data: one section per kind (each
    shredder's), and what was asked. Logged (who, when, how much; the address hashed)."""
    now = now or timezone.now()
    subject = personal_data_subject(email=email)
    if action == PrivacyAction.EXPORT and by is None and not operator.strip():
        raise ValidationError(_("Say who exports the data."))
    data = {
        "format": EXPORT_FORMAT,
        "email": subject.email,
        "exported_at": now.isoformat(),
        "privacy_notice_version": settings.PRIVACY_NOTICE_VERSION,
        # Not recorded: "Do I have a letter?" lookups and requests for this file are counted
        # for an hour under a hash of the address (rate limits), and nothing else keeps them.
    }
    for shredder in shredders():
        data[shredder.identifier] = shredder.export(subject=subject)
    PrivacyLog.objects.create(
        action=action,
        subject_hash=address_hash(subject.email),
        by=by,
        operator=operator.strip()[:150],
        counts={key: rows_counted(value) for key, value in data.items() if isinstance(value, list | dict)},
        created_at=now,
    )
    return data


def personal_data_erase(*, email: str, reason: str, by=None, operator: str = "", now=None) -> PrivacyLog:
    """Erase the address's contact data everywhere (every shredder, one transaction), and log
    who, why and when without the address. The Hebrew names stay in their letters, certificates
    keep their codes, amounts stay. Refused, with nothing changed, when a shredder refuses (a
    staff account), without a reason, or without saying who."""
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the data are erased.")]})
    if by is None and not operator.strip():
        raise ValidationError(_("Say who erases the data."))
    now = now or timezone.now()
    with transaction.atomic():
        subject = personal_data_subject(email=email)
        every = shredders()
        refusals = [refusal for shredder in every if (refusal := shredder.erase_refusal(subject=subject))]
        if refusals:
            raise ValidationError(refusals)
        counts = {shredder.identifier: shredder.erase(subject=subject, now=now) for shredder in every}
        return PrivacyLog.objects.create(
            action=PrivacyAction.ERASURE,
            subject_hash=address_hash(subject.email),
            by=by,
            operator=operator.strip()[:150],
            reason=reason,
            counts=counts,
            order_ids=list(subject.order_ids),
            created_at=now,
        )


# --- Retention -------------------------------------------------------------------------------------

# Orders erased per transaction, and at most per run (the next day's run goes on).
RETENTION_BATCH = 100
RETENTION_RUN_MAX = 20_000


def _years_before(moment: datetime.datetime, years: int) -> datetime.datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def personal_data_expire(*, now=None) -> list[PrivacyLog]:
    """What has been kept longer than the settings allow, erased by the same shredders: the
    contact data of orders made more than PERSONAL_DATA_RETENTION_YEARS ago (every shredder, as
    an erasure of those orders, RETENTION_BATCH a transaction), then each shredder's own
    expiries (children's dates of birth, finished imports' files, old siyum notices). One run at
    a time (an advisory lock); safe to run again. Returns the log entries written (none when
    nothing was due)."""
    now = now or timezone.now()
    entries = []
    with locks.advisory_lock_try(model=Order, namespace=locks.PRIVACY_RETENTION, object_id=0) as acquired:
        if not acquired:
            return entries
        years = settings.PERSONAL_DATA_RETENTION_YEARS
        if years:
            before = _years_before(now, years)
            counts, erased = {}, 0
            every = shredders()
            while erased < RETENTION_RUN_MAX:
                due = Order.objects.filter(created_at__lt=before, erased_at__isnull=True).order_by("pk")
                order_ids = tuple(due.values_list("pk", flat=True)[:RETENTION_BATCH])
                if not order_ids:
                    break
                with transaction.atomic():
                    subject = Subject(order_ids=order_ids)
                    for shredder in every:
                        done = shredder.erase(subject=subject, now=now)
                        counts[shredder.identifier] = counts.get(shredder.identifier, 0) + done
                erased += len(order_ids)
            if erased:
                entries.append(
                    PrivacyLog.objects.create(
                        action=PrivacyAction.RETENTION,
                        reason=f"Orders made before {before:%Y-%m-%d} (PERSONAL_DATA_RETENTION_YEARS={years})",
                        counts=counts,
                        created_at=now,
                    )
                )
        counts = {}
        for shredder in shredders():
            with transaction.atomic():
                counts[shredder.identifier] = shredder.expire(now=now)
        if any(counts.values()):
            entries.append(
                PrivacyLog.objects.create(
                    action=PrivacyAction.RETENTION,
                    reason="Kept longer than the settings allow (ERASE_CHILD_BIRTH_DATES_AFTER_DAYS, "
                    "IMPORT_FILES_KEPT_DAYS, PERSONAL_DATA_RETENTION_YEARS)",
                    counts=counts,
                    created_at=now,
                )
            )
    return entries


# --- "Send me my data": the link emailed to the address ----------------------------------------

LINK_SALT = "privacy.self-export"


def personal_data_link_token(*, email: str) -> str:
    """The token of a link that downloads the address's data: the address, signed with the
    SECRET_KEY and the moment (it expires after PRIVACY_EXPORT_LINK_HOURS)."""
    return signing.dumps(address_clean(email), salt=LINK_SALT, compress=True)


def personal_data_link_address(*, token: str) -> str:
    """The address a link was sent to; signing.SignatureExpired once PRIVACY_EXPORT_LINK_HOURS
    have passed, signing.BadSignature for a token we did not make."""
    return signing.loads(token, salt=LINK_SALT, max_age=settings.PRIVACY_EXPORT_LINK_HOURS * 3600)


def personal_data_link_send(*, email: str, language: str = "") -> bool:
    """Email the address a link to download everything held about it, in `language` (the page's)
    else the address's own; nothing when nothing is held. Returns whether a message was sent."""
    address = address_clean(email)
    if not any(personal_data_held(email=address).values()):
        return False
    url = settings.SITE_URL + reverse(
        "privacy:self-export-download", kwargs={"token": personal_data_link_token(email=address)}
    )
    context = {"url": url, "hours": settings.PRIVACY_EXPORT_LINK_HOURS}
    with translation.override(language_supported(language) or addresses_language(emails=[address])[address]):
        message = EmailMultiAlternatives(
            subject=_("Your data at UnitySefer"),
            body=render_to_string("emails/personal_data_link.txt", context),
            to=[address],
        )
        message.attach_alternative(render_to_string("emails/personal_data_link.html", context), "text/html")
    message.send()
    return True
