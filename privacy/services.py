"""A person's data, found by their email address: exported as JSON, erased on request (audited),
and erased once kept longer than the settings allow. Each kind of data has its shredder
(core.privacy); these services run them all and record what was done (PrivacyLog)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from allocation.models import Order
from core.privacy import Subject, shredders

from .models import PrivacyAction, PrivacyLog

EXPORT_FORMAT = "unitysefer-personal-data/1"


def address_clean(email: str) -> str:
    """The address as it is looked up (lower case, trimmed); ValidationError if it is none."""
    address = str(email or "").strip().lower()
    if not address or len(address) > 254:
        raise ValidationError({"email": [_("Give an email address.")]})
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"email": [_("Enter a valid email address.")]}) from None
    return address


def address_hash(email: str) -> str:
    """A keyed hash of the address (HMAC with SECRET_KEY): the log recognises an address asked
    about before without holding it, and nobody without the key can test addresses against it."""
    return salted_hmac("privacy.address", email.strip().lower(), algorithm="sha256").hexdigest()


def personal_data_subject(*, email: str) -> Subject:
    """Whom an address is: the orders bought with it (any case) and the accounts that carry it."""
    address = address_clean(email)
    order_ids = Order.objects.filter(buyer_email__iexact=address).order_by("pk").values_list("pk", flat=True)
    user_ids = get_user_model().objects.filter(email__iexact=address).order_by("pk").values_list("pk", flat=True)
    return Subject(email=address, order_ids=tuple(order_ids), user_ids=tuple(user_ids))


def _count(section) -> int:
    if isinstance(section, list):
        return len(section)
    if isinstance(section, dict):
        return sum(_count(value) for value in section.values() if isinstance(value, list | dict))
    return int(section is not None)


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
        counts={key: _count(value) for key, value in data.items() if isinstance(value, list | dict)},
        created_at=now,
    )
    return data


def personal_data_held(*, email: str) -> dict:
    """How much of each kind is held about the address (for the staff page), logging nothing."""
    subject = personal_data_subject(email=email)
    return {shredder.identifier: _count(shredder.export(subject=subject)) for shredder in shredders()}


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


def personal_data_erased_before(*, email: str) -> list[PrivacyLog]:
    """The erasures of this address already logged (recognised by its hash)."""
    return list(
        PrivacyLog.objects.filter(action=PrivacyAction.ERASURE, subject_hash=address_hash(address_clean(email)))
    )
