"""The Content Security Policy's additions for the payment provider, and the rate limits.

Rates and the cache-key prefix are read from settings on every request (not when a module is
imported), so a test can lower a rate or count in its own keys with the `settings` fixture."""

import ipaddress
import logging
import time
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.shortcuts import render
from django.utils.translation import ngettext
from django_ratelimit.core import get_usage
from django_ratelimit.decorators import ratelimit
from django_ratelimit.exceptions import Ratelimited
from rest_framework.exceptions import Throttled
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

# Where the real Stripe.js and its frames and API live (the static part of the policy).
STRIPE_JS_ORIGIN = "https://js.stripe.com"
STRIPE_API_ORIGIN = "https://api.stripe.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, also allowing a Stripe-compatible server that is not Stripe
    (STRIPE_JS_URL, STRIPE_API_BASE: localstripe in the tests) for scripts, frames and fetches."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        extra = {}
        js_origin = _origin(settings.STRIPE_JS_URL)
        if js_origin and js_origin != STRIPE_JS_ORIGIN:
            extra["script-src"] = [js_origin]
            extra["frame-src"] = [js_origin]
        api_origin = _origin(settings.STRIPE_API_BASE)
        if api_origin and api_origin != STRIPE_API_ORIGIN:
            extra["connect-src"] = [api_origin]
        if extra:
            update = dict(parts.update or {})
            for directive, sources in extra.items():
                update[directive] = [*update.get(directive, []), *sources]
            parts.update = update
        return parts


# --- Rate limits --------------------------------------------------------------------------------


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def client_ip(request) -> str:
    """The client's address: behind our proxy, the last address it appended to
    X-Forwarded-For (anything before it came from the client and may be forged)."""
    if settings.BEHIND_PROXY:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if forwarded and _is_address(forwarded[-1]):
            return forwarded[-1]
    # None at all (a Unix socket without BEHIND_PROXY): one shared count rather than a 500.
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


def _rate(name):
    def rate(group, request):
        return getattr(settings, name)

    return rate


def _posted(field):
    def key(group, request) -> str:
        # Email or username, in any case, count as one account (the sign-in takes either).
        return request.POST.get(field, "").strip().lower()

    return key


def _ip_and_username(group, request) -> str:
    return f"{client_ip(request)}|{_posted('username')(group, request)}"


def sign_in_rate_limited(view):
    """Sign-in attempts (POST): per IP address and account, per IP address, and per account from
    any address (many addresses guessing one password). The same groups wrap the accounts' and
    the admin's sign-in, so a try at either counts at both."""
    per_ip_and_account = ratelimit(
        group="sign-in:ip-account", key=_ip_and_username, rate=_rate("RATELIMIT_SIGN_IN"), method="POST"
    )
    per_ip = ratelimit(group="sign-in:ip", key="ip", rate=_rate("RATELIMIT_SIGN_IN_PER_IP"), method="POST")
    per_account = ratelimit(
        group="sign-in:account", key=_posted("username"), rate=_rate("RATELIMIT_SIGN_IN_PER_ACCOUNT"), method="POST"
    )
    # Per IP first: an address over its limit does not use up the account's allowance.
    return per_ip(per_ip_and_account(per_account(view)))


def password_reset_rate_limited(view):
    """Password reset requests (POST), each of which sends an email: per IP address, and per
    email address typed (so many addresses cannot flood one inbox)."""
    per_ip = ratelimit(group="password-reset:ip", key="ip", rate=_rate("RATELIMIT_PASSWORD_RESET"), method="POST")
    per_account = ratelimit(
        group="password-reset:account",
        key=_posted("email"),
        rate=_rate("RATELIMIT_PASSWORD_RESET_PER_ACCOUNT"),
        method="POST",
    )
    return per_ip(per_account(view))


def _orders_rate(group, request):
    # Signed in, the orders are an account's, bounded by API_THROTTLE_USER: an office or a
    # partner's server places many from one address.
    return None if request.user.is_authenticated else settings.RATELIMIT_ORDERS


def _orders_usage(request):
    """Count one order placed without signing in against the client's address: the buy page
    and the API share one counter."""
    try:
        return get_usage(request, group="orders:ip", key="ip", rate=_orders_rate, method="POST", increment=True)
    except Exception:  # Redis unreachable: the buyer still buys (the limit is against abuse)
        logger.exception("Could not count an order against its address")
        return None


def order_create_rate_limit(request) -> None:
    """The buy page's check (RATELIMIT_ORDERS): over the limit, RATELIMIT_VIEW's 429 page."""
    usage = _orders_usage(request)
    if usage is not None and usage["should_limit"]:
        raise Ratelimited


class OrdersThrottled(Throttled):
    """The order API's 429 in our words (DRF's own have no Hebrew), the wait in Retry-After."""

    def __init__(self, wait: int):
        minutes = max(1, -(-wait // 60))
        super().__init__(
            detail=ngettext(
                "Too many orders from this address. Please try again in %(minutes)d minute.",
                "Too many orders from this address. Please try again in %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes}
        )
        self.wait = wait


class OrderCreateThrottle(BaseThrottle):
    """RATELIMIT_ORDERS for the order API, on the buy page's counter."""

    def allow_request(self, request, view):
        usage = _orders_usage(request)
        if usage is not None and usage["should_limit"]:
            raise OrdersThrottled(max(usage["time_left"], 1))
        return True


def rate_limited(request, exception=None):
    """RATELIMIT_VIEW: what a request over a limit gets instead of the page (HTTP 429)."""
    return render(request, "429.html", status=429)


class _CountedThrottle:
    """DRF's throttles at the rate the setting holds now, counted as django-ratelimit counts: one
    counter per fixed window under RATELIMIT_CACHE_PREFIX. (DRF's own keeps the time of every
    request of the window in one cache entry, read and written whole on each request: 1,200
    of them for a busy user.)"""

    setting = ""

    def get_rate(self):
        return getattr(settings, self.setting) or None  # empty: no limit

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        key = f"{settings.RATELIMIT_CACHE_PREFIX}{key}:{self.duration}:{window}"
        # Kept a little past the window's end, so the first increment after add never misses.
        self.cache.add(key, 0, self.duration + 5)
        try:
            count = self.cache.incr(key)
        except ValueError:  # evicted between add and incr
            self.cache.set(key, 1, self.duration + 5)
            count = 1
        self.seconds_left = (window + 1) * self.duration - now
        return count <= self.num_requests

    def wait(self):
        return self.seconds_left


class AnonThrottle(_CountedThrottle, AnonRateThrottle):
    setting = "API_THROTTLE_ANON"


class UserThrottle(_CountedThrottle, UserRateThrottle):
    setting = "API_THROTTLE_USER"
