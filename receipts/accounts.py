"""The treasurer's view: an organisation's money of one month, read in SQL aggregates.

A payment belongs to the organisation that issued its order's receipt, else (no receipt: the
campaign had no organisation when it was paid) to the organisation behind its campaign now; so
a campaign moved to another organisation leaves its receipted past where it was. A payment
counts in the month in which its money was received (`Payment.succeeded_at`), in the
organisation's time zone, the zone its receipts' years are counted in. Refunds and disputes
are those of the month's payments, as last reported; Stripe's fees and payouts likewise, and
"not reported" where Stripe has not told them (never a made-up zero).
"""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Count, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from payments.models import Payment, PaymentProvider, PaymentStatus

from .models import Organisation, Receipt, ReceiptKind

MONTH = re.compile(r"(\d{4})-(\d{2})")
# Months a report may be asked for: anything else is not a month of the accounts.
FIRST_YEAR, LAST_YEAR = 2000, 2999
ZERO = Decimal(0)


def month_parse(value: str) -> datetime.date:
    """YYYY-MM as the month's first day; ValueError for anything else."""
    found = MONTH.fullmatch(value or "")
    if not found:
        raise ValueError("not YYYY-MM")
    year, month = int(found.group(1)), int(found.group(2))
    if not (FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12):
        raise ValueError("no such month")
    return datetime.date(year, month, 1)


def month_bounds(*, month: datetime.date, zone: ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
    """The month from its first day at 00:00 to the next month's first day at 00:00, in `zone`."""
    following = datetime.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    start = datetime.datetime.combine(month, datetime.time(), tzinfo=zone)
    return start, datetime.datetime.combine(following, datetime.time(), tzinfo=zone)


def month_current(*, organisation: Organisation) -> datetime.date:
    """The month now running in the organisation's time zone."""
    today = datetime.datetime.now(ZoneInfo(organisation.time_zone)).date()
    return today.replace(day=1)


def organisation_payments_of_month(*, organisation: Organisation, month: datetime.date) -> QuerySet:
    """The payments whose money the organisation received in the month (succeeded, refunded
    since or not), as module docstring says."""
    start, end = month_bounds(month=month, zone=ZoneInfo(organisation.time_zone))
    receipt_organisation = Receipt.objects.filter(order=OuterRef("order_id"), kind=ReceiptKind.RECEIPT).values(
        "organisation_id"
    )[:1]
    return (
        Payment.objects.filter(
            status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED), succeeded_at__gte=start, succeeded_at__lt=end
        )
        .annotate(
            organisation_of=Coalesce(
                Subquery(receipt_organisation),
                F("order__campaign__organisation_link__organisation_id"),
                output_field=BigIntegerField(),
            )
        )
        .filter(organisation_of=organisation.pk)
    )


@dataclass
class AccountsReport:
    organisation: Organisation
    month: datetime.date
    start: datetime.datetime
    end: datetime.datetime
    # By provider and currency: count, amount, refunded, refunds, disputes, disputed.
    received: list[dict] = field(default_factory=list)
    # By currency: count, amount, refunded, kept (amount less refunds).
    totals: list[dict] = field(default_factory=list)
    # By currency and the dispute's status: count, amount.
    disputes: list[dict] = field(default_factory=list)
    # Stripe's fees by the currency of its balance: count, amount (the charges'), fee, net.
    fees: list[dict] = field(default_factory=list)
    # Card payments whose fee Stripe has not reported.
    fees_not_reported: int = 0
    # The payouts that carried the month's payments: id, arrival, status, amount, currency and
    # the month's payments in it (count, net).
    payouts: list[dict] = field(default_factory=list)
    # Card payments not (yet) found in a payout.
    payouts_not_reported: int = 0
    # Payments staff must look at (a second payment of an order, an amount that did not match).
    flagged: int = 0

    @property
    def month_label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def start_label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}"

    @property
    def end_label(self) -> str:
        return f"{self.end:%Y-%m-%d %H:%M}"

    @property
    def has_card_payments(self) -> bool:
        return any(row["provider"] == PaymentProvider.STRIPE for row in self.received)


def _sum(name: str, **filters):
    return Coalesce(Sum(name, filter=Q(**filters) if filters else None), Value(ZERO))


def accounts_report(*, organisation: Organisation, month: datetime.date) -> AccountsReport:
    """The month's report for the organisation: a handful of GROUP BY queries, whatever the
    number of payments."""
    start, end = month_bounds(month=month, zone=ZoneInfo(organisation.time_zone))
    payments = organisation_payments_of_month(organisation=organisation, month=month)
    report = AccountsReport(organisation=organisation, month=month, start=start, end=end)
    labels = dict(PaymentProvider.choices)

    disputed = ~Q(dispute_id="")
    received = (
        payments.values("provider", "currency")
        .annotate(
            count=Count("id"),
            amount=_sum("amount"),
            refunded=_sum("amount_refunded"),
            refunds=Count("id", filter=Q(amount_refunded__gt=0)),
            disputes=Count("id", filter=disputed),
            disputed=Coalesce(Sum("dispute_amount", filter=disputed), Value(ZERO)),
        )
        .order_by("provider", "currency")
    )
    report.received = [{**row, "provider_label": labels.get(row["provider"], row["provider"])} for row in received]

    totals = (
        payments.values("currency")
        .annotate(count=Count("id"), amount=_sum("amount"), refunded=_sum("amount_refunded"))
        .order_by("currency")
    )
    report.totals = [{**row, "kept": row["amount"] - row["refunded"]} for row in totals]

    report.disputes = list(
        payments.filter(disputed)
        .values("currency", "dispute_status")
        .annotate(count=Count("id"), amount=Coalesce(Sum("dispute_amount"), Value(ZERO)))
        .order_by("currency", "dispute_status")
    )

    card = payments.filter(provider=PaymentProvider.STRIPE)
    report.fees = list(
        card.filter(stripe_fee__isnull=False)
        .values("stripe_balance_currency")
        .annotate(count=Count("id"), fee=_sum("stripe_fee"), net=_sum("stripe_net"))
        .order_by("stripe_balance_currency")
    )
    counts = card.aggregate(
        fees_not_reported=Count("id", filter=Q(stripe_fee__isnull=True)),
        payouts_not_reported=Count("id", filter=Q(payout__isnull=True)),
    )
    report.fees_not_reported = counts["fees_not_reported"]
    report.payouts_not_reported = counts["payouts_not_reported"]
    report.payouts = list(
        card.filter(payout__isnull=False)
        .values(
            payout_ref=F("payout__payout_id"),
            arrival_date=F("payout__arrival_date"),
            payout_status=F("payout__status"),
            payout_amount=F("payout__amount"),
            payout_currency=F("payout__currency"),
            truncated=F("payout__transactions_truncated"),
            balance_currency=F("stripe_balance_currency"),
        )
        .annotate(count=Count("id"), net=Sum("stripe_net"))
        .order_by("arrival_date", "payout_ref")
    )
    report.flagged = payments.exclude(flagged_reason="").count()
    return report
