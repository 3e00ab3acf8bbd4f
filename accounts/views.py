from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.cache import never_cache

from .forms import SignInForm
from .selectors import (
    REFERRAL_COOKIE,
    REFERRAL_COOKIE_MAX_AGE,
    REFERRAL_COOKIE_SALT,
    REFERRAL_SESSION_KEY,
    referrer_by_code,
    user_is_shliach,
)
from .services import profile_language_set


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        # The dashboard is for shluchim and staff; anyone else would meet a 403 there.
        if user_is_shliach(user=self.request.user):
            return super().get_default_redirect_url()
        return reverse("home")


class SignOutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have signed out."))
        return response


_reset_email = {
    "email_template_name": "accounts/password_reset_email.txt",
    "subject_template_name": "accounts/password_reset_subject.txt",
}

password_reset = auth_views.PasswordResetView.as_view(
    template_name="accounts/password_reset_form.html",
    success_url=reverse_lazy("accounts:password_reset_done"),
    # Links in emails point at the site's own address, as every email of the site does.
    extra_email_context={"site_url": settings.SITE_URL},
    **_reset_email,
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


def _safe_next(request) -> str:
    target = request.GET.get("next", "")
    # Only a path on this site: never a redirect to somewhere else (//host, http://host).
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=set()):
        return target
    return reverse("home")


@never_cache
def referral(request, code):
    """A shliach's referral link: remember who sent the visitor, then show them the site."""
    response = redirect(_safe_next(request))
    referrer = referrer_by_code(code=code)
    if referrer is not None:
        request.session[REFERRAL_SESSION_KEY] = referrer.pk
        response.set_signed_cookie(
            REFERRAL_COOKIE,
            code,
            salt=REFERRAL_COOKIE_SALT,
            max_age=REFERRAL_COOKIE_MAX_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response


def language_set(request):
    """Django's set_language (the switcher in every page's header), which also remembers the
    choice of a signed-in user on their profile."""
    response = i18n_views.set_language(request)
    if request.method == "POST" and request.user.is_authenticated:
        profile_language_set(user=request.user, language=request.POST.get("language", ""))
    return response
