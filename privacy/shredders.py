"""The shredders of the kinds of personal data the apps below privacy hold: certificates, orders
(with their names, letters and honour letters), payments, receipts, accounts. registrations and siyum
register their own (their shredders.py); core.privacy says what a shredder does.

What each keeps and erases, and why, is in docs/architecture.md ("Personal data")."""

import datetime

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from rest_framework.authtoken.models import Token

from accounts.models import Profile
from allocation.models import Gift, Name, Order, OrderStatus, Reservation
from certificates.models import Certificate, CertificateSheet, OrderCertificates
from certificates.selectors import certificate_urls
from certificates.tasks import redraw_certificate
from core import locks
from core.privacy import Shredder, Subject
from core.tasks import enqueue_on_commit
from payments.models import Payment
from receipts.models import Receipt
from receipts.selectors import receipt_describe

# What of a name is erased with its order's contact data; the Hebrew names, the parent's name,
# ben/bas, the kind of dedication ("in memory of") and the country stay (the letter, and the
# campaign's counts). A dedication's own words may name people, and the name leaves the scroll's
# public list: erasure errs on the side of showing less.
NAME_PERSONAL_FIELDS = {
    "english_name": "",
    "family_name": "",
    "date_of_birth": None,
    "city": "",
    "dedication_text": "",
    "listed": False,
}
ORDER_CONTACT_FIELDS = {"buyer_name": "", "buyer_email": "", "buyer_phone": ""}
# What an order's certificate prints of these (certificates.services.CERTIFICATE_NAME_FIELDS).
PRINTED_PERSONAL_FIELDS = ("english_name", "family_name", "dedication_text")
# Rows one daily run changes at most, per kind (the next run goes on).
EXPIRE_BATCH = 50_000


def _when(value):
    return value.isoformat() if value else None


def _site(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _gift(gift: Gift) -> dict:
    return {
        "recipient_name": gift.recipient_name,
        "recipient_email": gift.recipient_email,
        "language": gift.language,
        "deliver_on": _when(gift.deliver_on),
        "message": gift.message,
        "giver_name": gift.giver_name,
        "state": gift.state,
        "delivered_at": _when(gift.delivered_at),
    }


class CertificatesShredder(Shredder):
    """Certificates keep their codes (they still verify) and are drawn again without what was
    erased; the sheets and booklets drawn with it are deleted. Runs before the orders' shredder,
    while the names still say what was printed."""

    identifier = "certificates"
    verbose_name = gettext_lazy("Certificates")
    position = 10

    def export(self, *, subject: Subject):
        certificates = (
            Certificate.objects.filter(name__order_id__in=subject.order_ids)
            .select_related("name__order")
            .order_by("name__order_id", "name_id")
        )
        return [
            {
                "order_id": certificate.name.order_id,
                "name": certificate.name.display_name,
                "issued_at": _when(certificate.issued_at),
                **certificate_urls(certificate=certificate, order=certificate.name.order),
            }
            for certificate in certificates
        ]

    def erase(self, *, subject: Subject, now: datetime.datetime) -> int:
        printed = Name.objects.filter(order_id__in=subject.order_ids).exclude(
            **{field: "" for field in PRINTED_PERSONAL_FIELDS}
        )
        order_ids = sorted(set(printed.values_list("order_id", flat=True)))
        for order_id in order_ids:
            # A batch being drawn for the order finishes first (it read the names before this
            # erasure); the next one waits for this transaction, and reads them erased.
            locks.advisory_xact_lock(model=Certificate, namespace=locks.CERTIFICATES_ISSUE, object_id=order_id)
        certificates = Certificate.objects.filter(name__order_id__in=order_ids)
        name_ids = list(certificates.values_list("name_id", flat=True))
        # The sheets hold every page as drawn: the certificates are cut loose from them (the
        # booklet draws such a certificate again) and the sheets deleted, as is each booklet.
        certificates.update(sheet=None, sheet_page=None, sheet_background_page=None)
        stale = []
        for sheet in CertificateSheet.objects.filter(order_id__in=order_ids):
            stale += [(sheet.file.storage, sheet.file.name), (sheet.background.storage, sheet.background.name)]
        CertificateSheet.objects.filter(order_id__in=order_ids).delete()
        for state in OrderCertificates.objects.select_for_update().filter(order_id__in=order_ids).exclude(booklet=""):
            stale.append((state.booklet.storage, state.booklet.name))
            state.booklet, state.booklet_built_at = "", None
            state.save(update_fields=["booklet", "booklet_built_at"])
        transaction.on_commit(lambda: [storage.delete(path) for storage, path in stale if path], robust=True)
        for name_id in name_ids:  # drawn again from the erased name, with the same code
            enqueue_on_commit(redraw_certificate, name_id)
        return len(name_ids)


class OrdersShredder(Shredder):
    """Orders bought with the address: the buyer's name, email and phone, and the names' English
    and family names, dates of birth and cities, in the orders, the names and their history.
    The Hebrew names stay in their letters; amounts, dates and statuses stay for the accounts."""

    identifier = "orders"
    verbose_name = gettext_lazy("Orders and their names")
    position = 50

    def export(self, *, subject: Subject):
        orders = list(Order.objects.filter(pk__in=subject.order_ids).select_related("campaign").order_by("pk"))
        names_by_order = {}
        for name in (
            Name.objects.filter(order_id__in=subject.order_ids)
            .select_related("letter__scroll", "reservation", "gift")
            .order_by("id")
        ):
            names_by_order.setdefault(name.order_id, []).append(name)
        name_history = {}
        for row in Name.history.filter(order_id__in=subject.order_ids).order_by("history_date", "history_id"):
            name_history.setdefault(row.id, []).append(
                {
                    "at": _when(row.history_date),
                    "hebrew_name": row.hebrew_name,
                    "parent_hebrew_name": row.parent_hebrew_name,
                    **{field: getattr(row, field) for field in NAME_PERSONAL_FIELDS},
                    "date_of_birth": _when(row.date_of_birth),
                }
            )
        history = {}
        for row in Order.history.filter(id__in=subject.order_ids).order_by("history_date", "history_id"):
            history.setdefault(row.id, []).append(
                {
                    "at": _when(row.history_date),
                    "change": row.get_history_type_display(),
                    "status": row.status,
                    "buyer": {"name": row.buyer_name, "email": row.buyer_email, "phone": row.buyer_phone},
                }
            )
        return [
            {
                "id": order.pk,
                "campaign": order.campaign.slug,
                "campaign_name": order.campaign.name,
                "status": order.status,
                "channel": order.channel,
                "created_at": _when(order.created_at),
                "paid_at": _when(order.paid_at),
                "cancelled_at": _when(order.cancelled_at),
                "amount": str(order.amount),
                "currency": order.currency,
                "language": order.language,
                "buyer": {"name": order.buyer_name, "email": order.buyer_email, "phone": order.buyer_phone},
                "link": _site(reverse("order-done", kwargs={"token": order.token})),
                "consent": {"given_at": _when(order.consent_at), "privacy_notice_version": order.privacy_notice_version}
                if order.consent_at
                else None,
                "erased_at": _when(order.erased_at),
                "names": [self._name(name, name_history.get(name.pk, [])) for name in names_by_order.get(order.pk, [])],
                "history": history.get(order.pk, []),
            }
            for order in orders
        ]

    @staticmethod
    def _name(name: Name, history: list[dict]) -> dict:
        letter = getattr(name, "letter", None)
        reservation = getattr(name, "reservation", None)
        gift = getattr(name, "gift", None)
        return {
            "name": name.display_name,
            "hebrew_name": name.hebrew_name,
            "parent_hebrew_name": name.parent_hebrew_name,
            "gender": name.gender,
            "family_name": name.family_name,
            "english_name": name.english_name,
            "deceased": name.deceased,
            "dedication": {"kind": name.dedication_kind, "text": name.dedication_text},
            "listed": name.listed,
            "date_of_birth": _when(name.date_of_birth),
            "city": name.city,
            "country": name.country,
            "letter": {"scroll": letter.scroll.number, "position": letter.position} if letter else None,
            "honour_letter": {"honouree": reservation.honouree, "note": reservation.note} if reservation else None,
            "gift": _gift(gift) if gift else None,
            "history": history,
        }

    def erase(self, *, subject: Subject, now: datetime.datetime) -> int:
        if not subject.order_ids:
            return 0
        return orders_contact_erase(order_ids=subject.order_ids, now=now)

    def expire(self, *, now: datetime.datetime) -> int:
        """Children's dates of birth, ERASE_CHILD_BIRTH_DATES_AFTER_DAYS after their order was
        paid: a campaign with an age limit needs the date only to check it, when the order is
        placed. An unpaid order keeps it (it may be started again, and is checked again)."""
        days = settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS
        if days is None:
            return 0
        children = Name.objects.filter(
            Q(order__campaign__boys_under_age__isnull=False) | Q(order__campaign__girls_under_age__isnull=False),
            date_of_birth__isnull=False,
            order__status__in=[OrderStatus.PAID, OrderStatus.REFUNDED],
            order__paid_at__lt=now - datetime.timedelta(days=days),
        )
        name_ids = list(children.order_by("pk").values_list("pk", flat=True)[:EXPIRE_BATCH])
        Name.objects.filter(pk__in=name_ids).update(date_of_birth=None)
        Name.history.filter(id__in=name_ids).update(date_of_birth=None)
        return len(name_ids)


def orders_contact_erase(*, order_ids, now: datetime.datetime, changed_by=None) -> int:
    """Erase the contact data of these orders and the personal details of their names, where
    they are and in their history; the orders are marked erased. Returns how many orders."""
    orders = list(Order.objects.select_for_update().filter(pk__in=order_ids).order_by("pk"))
    for order in orders:
        for field, empty in ORDER_CONTACT_FIELDS.items():
            setattr(order, field, empty)
        order.erased_at = order.erased_at or now
        order._change_reason = "personal data erased"
        if changed_by is not None:  # else the request's user, if any (HistoryRequestMiddleware)
            order._history_user = changed_by
        order.save(update_fields=[*ORDER_CONTACT_FIELDS, "erased_at"])
    Order.history.filter(id__in=order_ids).update(**ORDER_CONTACT_FIELDS)
    Name.objects.filter(order_id__in=order_ids).update(**NAME_PERSONAL_FIELDS)
    Name.history.filter(order_id__in=order_ids).update(**NAME_PERSONAL_FIELDS)
    # A gift's recipient (name, address, the message to them) goes with the order: the gift
    # itself, and its page (whose token would lead nowhere of use).
    Gift.objects.filter(name__order_id__in=order_ids).delete()
    # Who an honour letter was kept for, as staff typed it, goes with its name.
    reservation_ids = list(Reservation.objects.filter(name__order_id__in=order_ids).values_list("pk", flat=True))
    if reservation_ids:
        Reservation.objects.filter(pk__in=reservation_ids).update(honouree="", note="")
        Reservation.history.filter(id__in=reservation_ids).update(honouree="", note="")
    return len(orders)


class PaymentsShredder(Shredder):
    """Payments hold no contact data: what was paid, when and how stays for the accounts (and
    the database keeps every attempt). Exported; nothing to erase. Card details are Stripe's."""

    identifier = "payments"
    verbose_name = gettext_lazy("Payments")
    position = 60

    def export(self, *, subject: Subject):
        return [
            {
                "order_id": payment.order_id,
                "provider": payment.provider,
                "status": payment.status,
                "amount": str(payment.amount),
                "currency": payment.currency,
                "created_at": _when(payment.created_at),
            }
            for payment in Payment.objects.filter(order_id__in=subject.order_ids).order_by("order_id", "pk")
        ]


class ReceiptsShredder(Shredder):
    """Receipts (and cancellation notes) issued for the orders: exported, and kept as issued,
    the donor's name on them included. A receipt is the organisation's tax record, which the
    law of its jurisdiction bids it keep (GDPR Art. 17(3)(b)); PostgreSQL refuses to change or
    delete one (receipts/migrations/0002)."""

    identifier = "receipts"
    verbose_name = gettext_lazy("Receipts (kept: tax records)")
    position = 65

    def export(self, *, subject: Subject):
        receipts = (
            Receipt.objects.filter(order_id__in=subject.order_ids)
            .select_related("organisation", "order")
            .order_by("order_id", "kind")
        )
        return [self._receipt(receipt) for receipt in receipts]

    @staticmethod
    def _receipt(receipt: Receipt) -> dict:
        described = receipt_describe(receipt=receipt, order=receipt.order)
        return {
            "order_id": receipt.order_id,
            "kind": receipt.kind,
            "number": described["number"],
            "organisation": receipt.organisation.name,
            "issued_at": _when(receipt.issued_at),
            "donor_name": receipt.donor_name,
            "amount": str(receipt.amount),
            "currency": receipt.currency,
            "download_url": _site(described["download_url"]),
        }


class AccountShredder(Shredder):
    """An account with the address (a shliach, the hanhala): exported with its profile and the
    orders it registered; erased by emptying its name and address and closing it for good. The
    orders it registered stay (the names in them are other people's, given by their families)."""

    identifier = "account"
    verbose_name = pgettext_lazy("user accounts", "Accounts")
    position = 70

    def export(self, *, subject: Subject):
        users = get_user_model().objects.filter(pk__in=subject.user_ids).prefetch_related("groups").order_by("pk")
        return [self._account(user) for user in users]

    @staticmethod
    def _account(user) -> dict:
        profile = Profile.objects.filter(user=user).prefetch_related("campaigns").first()
        registered = (
            Order.objects.filter(created_by=user)
            .select_related("campaign")
            .annotate(name_count=Count("names"))
            .order_by("pk")
        )
        return {
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "date_joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
            "active": user.is_active,
            "staff": user.is_staff,
            "roles": sorted(group.name for group in user.groups.all()),
            "api_token": Token.objects.filter(user=user).exists(),  # that there is one; never the key
            "profile": {
                "language": profile.language,
                "referral_code": profile.referral_code,
                "offline_payment_limit": None
                if profile.offline_payment_limit is None
                else str(profile.offline_payment_limit),
                "campaigns": sorted(campaign.slug for campaign in profile.campaigns.all()),
            }
            if profile
            else None,
            # The orders it registered for others: what and when, not the names (theirs).
            "orders_registered": [
                {
                    "id": order.pk,
                    "campaign": order.campaign.slug,
                    "channel": order.channel,
                    "status": order.status,
                    "created_at": _when(order.created_at),
                    "names": order.name_count,
                    "amount": str(order.amount),
                    "currency": order.currency,
                }
                for order in registered
            ],
            "orders_referred": Order.objects.filter(referred_by=user).exclude(status=OrderStatus.CANCELLED).count(),
        }

    def erase_refusal(self, *, subject: Subject) -> str:
        staff = get_user_model().objects.filter(pk__in=subject.user_ids).filter(is_staff=True).first()
        staff = staff or get_user_model().objects.filter(pk__in=subject.user_ids, is_superuser=True).first()
        if staff is None:
            return ""
        return _("The address is a staff account's (%(username)s): take away its staff status in the admin first.") % {
            "username": staff.username
        }

    def erase(self, *, subject: Subject, now: datetime.datetime) -> int:
        users = list(get_user_model().objects.select_for_update().filter(pk__in=subject.user_ids).order_by("pk"))
        content_type = ContentType.objects.get_for_model(get_user_model())
        for user in users:
            user.username = f"erased-{user.pk}"
            user.first_name = user.last_name = user.email = ""
            user.is_active = False
            user.set_unusable_password()  # its sessions end with the password they were signed with
            user.save()
            Profile.objects.filter(user=user).update(language="")
            Token.objects.filter(user=user).delete()
            # The admin's log names a user as it read then: its username may be the address.
            LogEntry.objects.filter(content_type=content_type, object_id=str(user.pk)).update(object_repr=user.username)
        return len(users)


def privacy_shredders(sender, **kwargs) -> list[Shredder]:
    """privacy's answer to core.privacy.shredders_register (connected in PrivacyConfig.ready)."""
    return [CertificatesShredder(), OrdersShredder(), PaymentsShredder(), ReceiptsShredder(), AccountShredder()]
