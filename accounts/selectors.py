from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework.authtoken.models import Token

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


def _permissions_granted_sql(user_id: str) -> str:
    """SELECT of the "app_label.codename" of every permission a (non-superuser) user holds,
    their own and their groups'; `user_id` is the SQL of the user's id (a parameter, or a column
    of an outer query). Written once rather than built by the ORM on every request: the ORM's
    version (an OR across two many-to-many joins) cost ten times the CPU to build as to run."""
    user_model = get_user_model()
    own = user_model.user_permissions.through._meta.db_table
    groups = user_model.groups.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    return (
        f"SELECT content_type.app_label || '.' || permission.codename"
        f" FROM {Permission._meta.db_table} permission"
        f" JOIN {ContentType._meta.db_table} content_type ON content_type.id = permission.content_type_id"
        f" WHERE permission.id IN (SELECT permission_id FROM {own} WHERE user_id = {user_id}"
        f" UNION SELECT granted.permission_id FROM {groups} member"
        f" JOIN {group_permissions} granted ON granted.group_id = member.group_id WHERE member.user_id = {user_id})"
    )


def permissions_granted(*, user) -> set[str]:
    """The permissions a (non-superuser) user holds, their own and their groups', as
    "app_label.codename" strings, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(_permissions_granted_sql("%s"), [user.pk, user.pk])
        return {row[0] for row in cursor.fetchall()}


def permissions_granted_of_token_user() -> RawSQL:
    """permissions_granted as an array, for the user of each row of a query of DRF's tokens
    (accounts.authentication reads them with the token)."""
    user_id = f'"{Token._meta.db_table}"."user_id"'
    return RawSQL(f"ARRAY({_permissions_granted_sql(user_id)})", [])


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
