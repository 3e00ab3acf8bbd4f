from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from payments.services import OFFLINE_PERMISSION

from .models import Profile
from .selectors import language_supported


def profile_for(*, user) -> Profile:
    """The user's profile, created if missing (users are given one when created; this covers
    any made while the signal was not connected, e.g. by raw fixtures)."""
    try:
        return user.profile
    except Profile.DoesNotExist:
        profile, _created = Profile.objects.get_or_create(user=user)
        return profile


def offline_payment_check(*, user, amount: Decimal, currency: str = "") -> None:
    """Refuse (ValidationError) an offline payment of `amount` for one order by `user`: without
    the permission to record offline payments, or above the user's limit per order (the limit
    is in the order's currency; none for staff, and none when the profile has no limit)."""
    if not user.has_perm(OFFLINE_PERMISSION):
        raise ValidationError(_("You may not record offline payments."), code="offline_not_permitted")
    if user.is_staff:
        return
    limit = profile_for(user=user).offline_payment_limit
    if limit is not None and amount > limit:
        raise ValidationError(
            _(
                "This order comes to %(amount)s %(currency)s, above your limit for offline payments "
                "(%(limit)s %(currency)s per order). Ask the office to record it."
            )
            % {"amount": amount, "limit": limit, "currency": currency},
            code="offline_over_limit",
        )


def profile_language_set(*, user, language: str) -> None:
    """Remember the language a signed-in user chose: their pages in any browser after signing
    in, and their emails, are in it. A language the site does not speak is ignored."""
    if language_supported(language):
        profile = profile_for(user=user)
        if profile.language != language:
            profile.language = language
            profile.save(update_fields=["language"])
