from django.conf import settings
from django.utils import translation

from .selectors import user_language_chosen


class ProfileLanguageMiddleware:
    """A signed-in user reads the site in the language they chose, in any browser: right after
    signing in (accounts.signals puts it on the request) or when their browser has no language
    cookie yet, the profile's language is used and the cookie set, so LocaleMiddleware finds it
    from then on. After AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only a browser with a session may be signed in: one without never touches the session
        # here (no query, no Vary: Cookie on the public pages and the widget).
        if (
            settings.SESSION_COOKIE_NAME in request.COOKIES
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
            and request.user.is_authenticated
        ):
            language = user_language_chosen(user=request.user)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
                request.language_remembered = language
        response = self.get_response(request)
        language = getattr(request, "language_remembered", None)
        # The switcher (set_language) sets the cookie itself, to the new choice.
        if language and settings.LANGUAGE_COOKIE_NAME not in response.cookies:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
