from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Lower

from allocation.models import Name, Order, OrderStatus
from scrolls.models import Campaign

from .models import Profile

SHLIACH_PERMISSION = "accounts.register_names"
REPORTS_PERMISSION = "accounts.view_reports"

# Where a referral is remembered: the session (the shliach's user id) and, so it outlives a
# sign-out or a closed browser, a signed cookie with the referral code.
REFERRAL_SESSION_KEY = "referred_by"
REFERRAL_COOKIE = "referral"
REFERRAL_COOKIE_SALT = "accounts.referral"
REFERRAL_COOKIE_MAX_AGE = 30 * 24 * 3600

ORDERS_PER_PAGE = 50


def campaigns_visible_to(*, user) -> QuerySet:
    """The campaigns whose reports and data a user may read: every one for staff, a hanhala
    member's own list (with the hanhala's permission: taken out of the role, a user reads nothing
    though their profile still lists campaigns), none for anyone else."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Campaign.objects.none()
    if user.is_staff:
        return Campaign.objects.all()
    if not user.has_perm(REPORTS_PERMISSION):
        return Campaign.objects.none()
    return Campaign.objects.filter(hanhala_profiles__user=user).distinct()


def users_with_permission(*, permission: str) -> QuerySet:
    """Active users holding a permission: their own, through a group, or as superusers."""
    app_label, codename = permission.split(".")
    granted = Q(codename=codename, content_type__app_label=app_label)
    permissions = Permission.objects.filter(granted)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(user_permissions__in=permissions) | Q(groups__permissions__in=permissions))
        .distinct()
    )


def user_is_shliach(*, user) -> bool:
    """A shliach (the shliach group gives the permission) or staff: who has a dashboard and may
    be credited through a referral link."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_staff or user.has_perm(SHLIACH_PERMISSION)


def referrer_by_code(*, code: str):
    """The shliach whose referral code this is, or None (unknown code, or no longer a shliach)."""
    profile = Profile.objects.select_related("user").filter(referral_code=code).first()
    if profile is None or not user_is_shliach(user=profile.user):
        return None
    return profile.user


def referrer_for(*, request):
    """The shliach whose referral link brought this visitor, or None. Checked again now: a
    shliach who has lost the role since the click is not credited."""
    user_id = request.session.get(REFERRAL_SESSION_KEY)
    if user_id is not None:
        user = get_user_model()._default_manager.filter(pk=user_id).first()
        return user if user is not None and user_is_shliach(user=user) else None
    code = request.get_signed_cookie(REFERRAL_COOKIE, default=None, salt=REFERRAL_COOKIE_SALT)
    return referrer_by_code(code=code) if code else None


def shliach_orders(*, user) -> QuerySet:
    """The orders a shliach registered and those their referral link brought."""
    return Order.objects.filter(Q(created_by=user) | Q(referred_by=user))


def shliach_orders_page(*, user, number) -> Page:
    """One page of a shliach's orders, newest first, each with `name_count`, `letter_count`
    and `certificate_count`: two queries per page, however many orders there are."""
    queryset = shliach_orders(user=user).select_related("campaign").order_by("-id")
    page = Paginator(queryset, ORDERS_PER_PAGE).get_page(number)
    orders = list(page.object_list)
    counts = {
        row["order_id"]: row
        for row in Name.objects.filter(order_id__in=[order.pk for order in orders])
        .values("order_id")
        .annotate(names=Count("id"), letters=Count("letter"), certificates=Count("certificate"))
        .order_by()
    }
    for order in orders:
        row = counts.get(order.pk, {})
        order.name_count = row.get("names", 0)
        order.letter_count = row.get("letters", 0)
        order.certificate_count = row.get("certificates", 0)
    page.object_list = orders
    return page


def shliach_campaign_totals(*, user) -> dict:
    """A shliach's numbers per campaign and in all: orders (cancelled ones left out) and how many
    are paid, names, letters allocated, certificates issued, and the amount paid per currency.
    Three aggregate queries and one for the campaigns.

    {"campaigns": [{"campaign", "orders", "paid_orders", "names", "letters", "certificates",
    "amounts": [(currency, amount), ...]}, ...], "total": {the same without "campaign"}}"""
    orders = shliach_orders(user=user).exclude(status=OrderStatus.CANCELLED)
    empty = {"orders": 0, "paid_orders": 0, "names": 0, "letters": 0, "certificates": 0}
    by_campaign = defaultdict(lambda: {**empty, "amounts": defaultdict(Decimal)})
    for row in (
        orders.values("campaign_id", "currency")
        .annotate(
            orders=Count("id"),
            paid_orders=Count("id", filter=Q(status=OrderStatus.PAID)),
            amount=Sum("amount", filter=Q(status=OrderStatus.PAID)),
        )
        .order_by()
    ):
        totals = by_campaign[row["campaign_id"]]
        totals["orders"] += row["orders"]
        totals["paid_orders"] += row["paid_orders"]
        if row["amount"]:
            totals["amounts"][row["currency"]] += row["amount"]
    for row in (
        Name.objects.filter(order__in=orders.values("id"))
        .values("order__campaign_id")
        .annotate(names=Count("id"), letters=Count("letter"), certificates=Count("certificate"))
        .order_by()
    ):
        totals = by_campaign[row["order__campaign_id"]]
        for key in ("names", "letters", "certificates"):
            totals[key] += row[key]

    campaigns = Campaign.objects.in_bulk(list(by_campaign))
    total = {**empty, "amounts": defaultdict(Decimal)}
    rows = []
    for campaign_id, totals in by_campaign.items():
        for key in empty:
            total[key] += totals[key]
        for currency, amount in totals["amounts"].items():
            total["amounts"][currency] += amount
        rows.append({"campaign": campaigns[campaign_id], **totals, "amounts": sorted(totals["amounts"].items())})
    rows.sort(key=lambda row: row["campaign"].name)
    return {"campaigns": rows, "total": {**total, "amounts": sorted(total["amounts"].items())}}


# --- Languages: what each person reads, on the site and in their email -----------------------


def language_supported(language) -> str:
    """`language` if the site speaks it (a code of settings.LANGUAGES), else ""."""
    return language if language in dict(settings.LANGUAGES) else ""


def user_language_chosen(*, user) -> str:
    """The language the user last chose on the site, or "" if they never chose one."""
    if not getattr(user, "is_authenticated", False):
        return ""
    language = Profile.objects.filter(user=user).values_list("language", flat=True).first()
    return language_supported(language)


def user_language(*, user) -> str:
    """The language to write to a user in: the one they chose, else the site's."""
    return user_language_chosen(user=user) or settings.LANGUAGE_CODE


def order_language(*, order) -> str:
    """The language of an order's emails: the buyer's when they ordered themselves, else that of
    the user who registered it (a shliach's people read what the shliach reads), else the site's."""
    if language_supported(order.language):
        return order.language
    if order.created_by_id is not None:
        return user_language(user=order.created_by)
    return settings.LANGUAGE_CODE


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
