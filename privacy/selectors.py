from email.utils import parseaddr

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from allocation.models import Order
from core.privacy import Subject, shredders

from .models import PrivacyAction, PrivacyLog


def privacy_contact_email() -> str:
    """Where people write about their data: PRIVACY_CONTACT_EMAIL, else the address we send from."""
    return settings.PRIVACY_CONTACT_EMAIL or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def privacy_log_recent(*, limit: int = 30) -> list[PrivacyLog]:
    """The latest entries, each with `rows`: [(the kind's name, rows)] of the kinds it touched."""
    labels = shredder_labels()
    entries = list(PrivacyLog.objects.select_related("by").order_by("-id")[:limit])
    for entry in entries:
        entry.rows = [(labels.get(kind, kind), count) for kind, count in (entry.counts or {}).items() if count]
    return entries


def shredder_labels() -> dict[str, str]:
    """Each kind of data's name for staff, by its identifier."""
    return {shredder.identifier: shredder.verbose_name or shredder.identifier for shredder in shredders()}


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


def rows_counted(section) -> int:
    """How many rows an export's section holds (its lists' lengths)."""
    if isinstance(section, list):
        return len(section)
    if isinstance(section, dict):
        return sum(rows_counted(value) for value in section.values() if isinstance(value, list | dict))
    return int(section is not None)


def personal_data_held(*, email: str) -> dict:
    """How much of each kind is held about the address (for the staff page), logging nothing."""
    subject = personal_data_subject(email=email)
    return {shredder.identifier: rows_counted(shredder.export(subject=subject)) for shredder in shredders()}


def personal_data_erased_before(*, email: str) -> list[PrivacyLog]:
    """The erasures of this address already logged (recognised by its hash)."""
    return list(
        PrivacyLog.objects.filter(action=PrivacyAction.ERASURE, subject_hash=address_hash(address_clean(email)))
    )
