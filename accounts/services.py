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


def profile_language_set(*, user, language: str) -> None:
    """Remember the language a signed-in user chose: their pages in any browser after signing
    in, and their emails, are in it. A language the site does not speak is ignored."""
    if language_supported(language):
        profile = profile_for(user=user)
        if profile.language != language:
            profile.language = language
            profile.save(update_fields=["language"])
