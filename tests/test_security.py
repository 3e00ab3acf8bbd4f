"""Security settings: Django's deployment check passes with production settings, the responses
carry the security headers and secure cookies, and the Content Security Policy allows only what
the pages use (the browser reports nothing on the main pages: tests/test_accessibility.py)."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from allocation.services import order_fulfil

from .factories import make_order
from .stripe_helpers import localstripe_url, stripe_server  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

# Inline code the policy refuses: <script> without src, <style>, style="", onclick= and the like.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)
# Not pages a browser shows: emails (read in mail clients) and the certificate (WeasyPrint).
NOT_BROWSER_PAGES = ("emails/", "certificates/certificate.html")


def production_environment(**overrides):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "unitysefer.example.org",
        "SITE_URL": "https://unitysefer.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://unitysefer.example.org",
    }
    # Every secure default follows DEBUG: none of them is set here.
    # (Nor the test run's own: the browser tests allow the ORM in their event loop.)
    for name in (
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    ):
        env.pop(name, None)
    env.update(overrides)
    return env


def deploy_check(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_deployment_check_passes_with_production_settings():
    result = deploy_check(production_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deployment_check_fails_when_a_secure_default_is_turned_off():
    # The check above can fail: an insecure session cookie is a warning, and warnings fail.
    result = deploy_check(production_environment(SESSION_COOKIE_SECURE="false"))
    assert result.returncode != 0 and "security.W012" in result.stderr + result.stdout


def test_no_environment_variable_turns_demo_payments_on_with_debug_off():
    script = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'unitysefer.settings'); "
        "django.setup(); from django.conf import settings; print(settings.DEMO_PAYMENTS)"
    )
    for overrides in ({}, {"DEMO_PAYMENTS": "true"}):
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=production_environment(**overrides),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.stdout.split()[-1] == "False", result.stdout + result.stderr


def test_the_deployment_check_warns_of_demo_payments_without_stripe():
    # Only the load benchmark's settings module turns the demo provider on with DEBUG off.
    env = production_environment(DJANGO_SETTINGS_MODULE="bench.benchsite.settings", STRIPE_SECRET_KEY="")
    result = deploy_check(env)
    assert result.returncode != 0 and "payments.W001" in result.stderr + result.stdout


# Run in a fresh process, so that every setting is what the environment alone makes it.
HEADERS_SCRIPT = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client

client = Client(HTTP_HOST="unitysefer.example.org")
plain = client.get("/accounts/login/")
secure = client.get("/accounts/login/", secure=True)
language = client.post("/i18n/setlang/", {"language": "he", "next": "/"}, secure=True)
cookies = {}
for response in (secure, language):
    for name, morsel in response.cookies.items():
        cookies[name] = {
            "secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]), "samesite": morsel["samesite"]
        }
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location", "")],
    "headers": dict(secure.headers),
    "cookies": cookies,
    "session": [settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
}))
"""


def production_responses(**overrides):
    result = subprocess.run(
        [sys.executable, "-c", HEADERS_SCRIPT],
        cwd=ROOT, env={**production_environment(**overrides), "DJANGO_SETTINGS_MODULE": "unitysefer.settings"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_responses_carry_the_security_headers_and_secure_cookies():
    seen = production_responses()
    assert seen["plain"] == [301, "https://unitysefer.example.org/accounts/login/"]
    headers = seen["headers"]
    # A year; subdomains and the preload list only when the deployment opts in (below).
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = policy_directives(headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    # Stripe's own subdomains (*.js.stripe.com) serve the wallets' and Link's frames and scripts.
    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-src"] == ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    csrf, language = seen["cookies"]["csrftoken"], seen["cookies"]["django_language"]
    assert csrf == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert language["secure"] is True and language["samesite"] == "Lax"
    assert seen["session"] == [True, True]


def test_hsts_subdomains_and_preload_are_opted_into_and_the_deployment_check_stays_clean():
    opted_in = {"SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true"}
    seen = production_responses(**opted_in)
    assert seen["headers"]["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    for overrides in (opted_in, {"SECURE_HSTS_PRELOAD": "true"}, {}):
        result = deploy_check(production_environment(**overrides))
        assert result.returncode == 0 and "no issues" in result.stdout, result.stdout + result.stderr
    # Only those two warnings are silenced: HSTS itself turned off is still one.
    result = deploy_check(production_environment(SECURE_HSTS_SECONDS="0"))
    assert result.returncode != 0 and "security.W004" in result.stderr + result.stdout


def policy_directives(header):
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_a_stripe_compatible_server_configured_instead_is_allowed_too(client, settings):
    settings.STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/"
    settings.STRIPE_API_BASE = "http://127.0.0.1:8421"
    policy = policy_directives(client.get("/accounts/login/")["Content-Security-Policy"])
    assert policy["script-src"] == [
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "http://127.0.0.1:8420",
    ]
    assert policy["frame-src"] == [
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
        "http://127.0.0.1:8420",
    ]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com", "http://127.0.0.1:8421"]

    settings.STRIPE_JS_URL, settings.STRIPE_API_BASE = "https://js.stripe.com/v3/", ""
    policy = policy_directives(client.get("/accounts/login/")["Content-Security-Policy"])
    assert "http://127.0.0.1:8420" not in policy["script-src"] + policy["frame-src"]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]


def test_no_template_a_browser_shows_has_inline_script_or_style():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        relative = path.relative_to(ROOT / "templates").as_posix()
        if relative.startswith(NOT_BROWSER_PAGES):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if INLINE.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert not found, "Inline code the Content Security Policy refuses:\n" + "\n".join(found)
    # The pattern finds what it is meant to find.
    assert all(INLINE.search(s) for s in ["<script>x()</script>", '<p style="x">', "<style>", '<a onclick="x">'])
    assert not INLINE.search('<script src="/static/js/site.js"></script>')


# --- In the browser ---------------------------------------------------------------------------

REPORT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_the_browser_enforces_the_policy_and_reports_what_it_refuses(page, live_server, db):  # noqa: F811
    # The check tests/test_accessibility.py makes of every main page can fail.
    console = []
    page.on("console", lambda message: "Content Security Policy" in message.text and console.append(message.text))
    page.add_init_script(REPORT_VIOLATIONS)
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.evaluate("window.__cspViolations") == [] and console == []
    inline = """() => document.body.insertAdjacentHTML("beforeend", '<div id="inline" style="color: red">x</div>')"""
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate(inline)
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__cspViolations")[0].startswith("style-src")
    assert "directive 'style-src 'self''" in console[0]
    assert page.evaluate("getComputedStyle(document.getElementById('inline')).color") != "rgb(255, 0, 0)"


@pytest.mark.django_db(transaction=True)
def test_the_pay_page_loads_a_stripe_compatible_server_within_the_policy(
    page,
    live_server,
    stripe_server,
    localstripe_url,
    campaigns,
    settings,  # noqa: F811
):
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    order = make_order(campaigns["idf"], 1)
    page.add_init_script(REPORT_VIOLATIONS)
    page.goto(f"{live_server.url}/orders/{order.token}/pay/")
    assert page.evaluate("typeof Stripe") == "function"  # the script came from localstripe
    # Stripe.js talks to the API's origin: allowed (whatever the answer, no violation).
    page.evaluate(f"() => fetch('{localstripe_url}/v1/payment_intents').catch(() => null)")
    assert page.evaluate("window.__cspViolations") == []
    # A fetch anywhere else is refused.
    page.evaluate("() => fetch('http://127.0.0.1:9/elsewhere').catch(() => null)")
    page.wait_for_function("window.__cspViolations.length > 0")
    [refused] = page.evaluate("window.__cspViolations")
    assert refused.startswith("connect-src http://127.0.0.1:9")

    # The progress widget (its own page, framed elsewhere) draws its bar from a script.
    order_fulfil(order_id=order.pk)
    page.goto(f"{live_server.url}/widget/idf/?lang=he")
    assert page.evaluate("window.__cspViolations") == []
    assert page.evaluate("document.querySelector('.progress-bar').style.width").endswith("%")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"  # widget.css
