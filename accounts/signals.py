from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Profile
from .selectors import user_language_chosen
from .services import profile_language_set


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.profile_create")
def profile_create(sender, instance, created, raw, **kwargs):
    # Fixtures (raw) bring their own profiles.
    if created and not raw:
        Profile.objects.get_or_create(user=instance)


@receiver(user_logged_in, dispatch_uid="accounts.profile_language_on_sign_in")
def profile_language_on_sign_in(sender, request, user, **kwargs):
    """Signing in brings back the language the user chose (ProfileLanguageMiddleware sets the
    cookie). A user who has not chosen yet but switched language before signing in has chosen:
    that is remembered. The browser's Accept-Language alone is not a choice and is not kept."""
    if request is None:
        return
    language = user_language_chosen(user=user)
    if language:
        request.language_remembered = language  # for the next page: signing in redirects
    elif settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        profile_language_set(user=user, language=request.COOKIES[settings.LANGUAGE_COOKIE_NAME])
