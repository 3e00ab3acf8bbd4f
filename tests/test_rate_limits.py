"""Rate limits: sign-in, password reset, "Do I have a letter?" and the public API each allow N
requests and answer the next with HTTP 429 and a clear message, while another address (or
account, or user) goes on. Rates are lowered per test, per day, so that no window ends mid-test;
each test counts under its own keys (tests/conftest.py)."""

import ipaddress
import uuid

import pytest
from django.contrib.auth.models import User

from .conftest import make_user, token_client

LIMITED = "Too many attempts from here. Please wait a few minutes and try again."
LIMITED_HE = "יותר מדי ניסיונות מכאן. נא להמתין כמה דקות ולנסות שוב."

pytestmark = pytest.mark.django_db


def unique_ip():
    """An address no earlier run has counted (some counters outlive the test's keys)."""
    return str(ipaddress.IPv6Address(uuid.uuid4().int))


def sign_in(client, username, ip, password="wrong-password"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_sign_in_is_limited_per_address_and_account(client, settings):
    settings.RATELIMIT_SIGN_IN, settings.RATELIMIT_SIGN_IN_PER_IP = "3/d", "100/d"
    make_user("sara")
    for _ in range(3):
        assert sign_in(client, "sara", "192.0.2.1").status_code == 200  # the form, with its error
    limited = sign_in(client, " SARA ", "192.0.2.1", password="a-long-test-password")  # any case, any spaces
    assert limited.status_code == 429 and LIMITED in limited.content.decode()
    assert "_auth_user_id" not in client.session  # even the right password does not sign in
    # Another account from the same address, and the same account from another address, go on.
    assert sign_in(client, "rivka", "192.0.2.1").status_code == 200
    assert sign_in(client, "sara", "192.0.2.2", password="a-long-test-password").status_code == 302


def test_sign_in_is_limited_per_address_whatever_the_account(client, settings):
    settings.RATELIMIT_SIGN_IN, settings.RATELIMIT_SIGN_IN_PER_IP = "100/d", "4/d"
    for n in range(4):
        assert sign_in(client, f"guess-{n}", "192.0.2.1").status_code == 200
    limited = sign_in(client, "guess-5", "192.0.2.1")
    assert limited.status_code == 429 and LIMITED in limited.content.decode()
    assert sign_in(client, "guess-5", "192.0.2.2").status_code == 200


def test_the_limited_page_speaks_the_visitors_language(client, settings):
    settings.RATELIMIT_SIGN_IN = "1/d"
    sign_in(client, "sara", "192.0.2.1")
    limited = client.post(
        "/accounts/login/", {"username": "sara", "password": "x"}, REMOTE_ADDR="192.0.2.1", HTTP_ACCEPT_LANGUAGE="he"
    )
    assert limited.status_code == 429 and LIMITED_HE in limited.content.decode()


def test_password_reset_is_limited_per_address_and_the_limited_request_sends_nothing(client, settings, mailoutbox):
    settings.RATELIMIT_PASSWORD_RESET = "2/d"
    User.objects.create_user("sara", "sara@example.org", "a-long-test-password")
    for _ in range(2):
        response = client.post("/accounts/password_reset/", {"email": "sara@example.org"}, REMOTE_ADDR="192.0.2.1")
        assert response.status_code == 302
    limited = client.post("/accounts/password_reset/", {"email": "sara@example.org"}, REMOTE_ADDR="192.0.2.1")
    assert limited.status_code == 429 and LIMITED in limited.content.decode()
    assert len(mailoutbox) == 2
    # Reading the form is not limited, nor is another address.
    assert client.get("/accounts/password_reset/", REMOTE_ADDR="192.0.2.1").status_code == 200
    response = client.post("/accounts/password_reset/", {"email": "sara@example.org"}, REMOTE_ADDR="192.0.2.2")
    assert response.status_code == 302 and len(mailoutbox) == 3


def test_the_letter_lookup_is_limited_per_address(client, settings):
    # Its own counter (certificates.services.letters_lookup_rate_check), per IP address and
    # per email address; tests/test_certificates.py tests the email address's.
    settings.LETTERS_LOOKUP_PER_HOUR = 2
    ip = unique_ip()

    def lookup(ip):
        return client.post("/letters/lookup/", {"email": f"{uuid.uuid4().hex}@example.org"}, REMOTE_ADDR=ip)

    for _ in range(2):
        assert lookup(ip).status_code == 302
    limited = lookup(ip)
    assert limited.status_code == 429 and "Too many lookups. Please try again in an hour." in limited.content.decode()
    assert lookup(unique_ip()).status_code == 302


def test_the_admin_sign_in_counts_with_the_accounts_sign_in(client, settings):
    settings.RATELIMIT_SIGN_IN, settings.RATELIMIT_SIGN_IN_PER_IP = "3/d", "6/d"
    make_user("sara", is_staff=True)

    def admin_sign_in(username, password="wrong-password", ip="192.0.2.1"):
        return client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)

    assert sign_in(client, "sara", "192.0.2.1").status_code == 200
    assert admin_sign_in("sara").status_code == 200
    assert sign_in(client, "sara", "192.0.2.1").status_code == 200
    # The fourth try at sara from here, at either door, is one too many.
    limited = admin_sign_in("sara", password="a-long-test-password")
    assert limited.status_code == 429 and LIMITED in limited.content.decode()
    assert "_auth_user_id" not in client.session
    assert sign_in(client, "sara", "192.0.2.1").status_code == 429
    # Per address too: six tries from here, whatever the account or the door, then no more.
    assert admin_sign_in("rivka").status_code == 200
    assert admin_sign_in("leah").status_code == 429
    assert sign_in(client, "leah", "192.0.2.1").status_code == 429
    assert admin_sign_in("sara", password="a-long-test-password", ip="192.0.2.2").status_code == 302


def test_sign_in_is_limited_per_account_from_any_address(client, settings):
    settings.RATELIMIT_SIGN_IN_PER_ACCOUNT = "3/d"
    make_user("sara", is_staff=True)
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert sign_in(client, "sara", ip).status_code == 200
    limited = sign_in(client, " Sara ", "192.0.2.4", password="a-long-test-password")  # any case, any spaces
    assert limited.status_code == 429 and LIMITED in limited.content.decode()
    assert "_auth_user_id" not in client.session
    admin = client.post("/admin/login/", {"username": "sara", "password": "x"}, REMOTE_ADDR="192.0.2.5")
    assert admin.status_code == 429
    # Another account from the same addresses goes on.
    assert sign_in(client, "rivka", "192.0.2.4").status_code == 200


def test_an_address_over_its_limit_does_not_use_up_the_accounts(client, settings):
    settings.RATELIMIT_SIGN_IN_PER_IP, settings.RATELIMIT_SIGN_IN_PER_ACCOUNT = "2/d", "3/d"
    make_user("sara")
    for n in range(2):
        assert sign_in(client, f"guess-{n}", "192.0.2.1").status_code == 200
    for _ in range(5):
        assert sign_in(client, "sara", "192.0.2.1").status_code == 429
    for ip in ("192.0.2.2", "192.0.2.3"):
        assert sign_in(client, "sara", ip).status_code == 200
    assert sign_in(client, "sara", "192.0.2.4", password="a-long-test-password").status_code == 302


def test_password_reset_is_limited_per_account_from_any_address(client, settings, mailoutbox):
    settings.RATELIMIT_PASSWORD_RESET_PER_ACCOUNT = "2/d"
    User.objects.create_user("sara", "sara@example.org", "a-long-test-password")
    for ip in ("192.0.2.1", "192.0.2.2"):
        response = client.post("/accounts/password_reset/", {"email": "sara@example.org"}, REMOTE_ADDR=ip)
        assert response.status_code == 302
    limited = client.post("/accounts/password_reset/", {"email": " SARA@example.org"}, REMOTE_ADDR="192.0.2.3")
    assert limited.status_code == 429 and LIMITED in limited.content.decode()
    assert len(mailoutbox) == 2
    User.objects.create_user("rivka", "rivka@example.org", "a-long-test-password")
    response = client.post("/accounts/password_reset/", {"email": "rivka@example.org"}, REMOTE_ADDR="192.0.2.3")
    assert response.status_code == 302 and len(mailoutbox) == 3


LOOKUP_LIMITED = "Too many lookups. Please try again in an hour."
LOOKUP_LIMITED_TODAY = "Too many lookups for this address today. Please try again tomorrow."


def lookup(client, email, ip):
    return client.post("/letters/lookup/", {"email": email}, REMOTE_ADDR=ip)


def test_the_lookup_counts_an_email_address_only_for_a_caller_within_its_own_limit(client, settings):
    settings.LETTERS_LOOKUP_PER_HOUR = 2
    buyer, caller = f"buyer-{uuid.uuid4().hex}@example.org", unique_ip()
    for _ in range(2):
        assert lookup(client, f"{uuid.uuid4().hex}@example.org", caller).status_code == 302
    for _ in range(5):  # over its own limit: refused, and the buyer's address not counted
        limited = lookup(client, buyer, caller)
        assert limited.status_code == 429 and LOOKUP_LIMITED in limited.content.decode()
    # The buyer still has their two an hour, from anywhere; then their address's limit holds.
    assert lookup(client, buyer, unique_ip()).status_code == 302
    assert lookup(client, buyer.upper(), unique_ip()).status_code == 302
    assert lookup(client, buyer, unique_ip()).status_code == 429


def test_the_lookup_has_a_daily_cap_per_email_address(client, settings):
    settings.LETTERS_LOOKUP_PER_HOUR, settings.LETTERS_LOOKUP_PER_DAY = 100, 3
    buyer, caller = f"buyer-{uuid.uuid4().hex}@example.org", unique_ip()
    for _ in range(3):
        assert lookup(client, buyer, unique_ip()).status_code == 302
    limited = lookup(client, buyer, caller)
    assert limited.status_code == 429 and LOOKUP_LIMITED_TODAY in limited.content.decode()
    # Another address, from the same caller, goes on.
    assert lookup(client, f"other-{uuid.uuid4().hex}@example.org", caller).status_code == 302


POSITION = "/api/v1/campaigns/idf/scrolls/1/positions/1/"  # public; 404 here, with no campaign


def test_the_public_api_is_limited_per_address(client, settings):
    settings.API_THROTTLE_ANON = "3/day"
    for _ in range(3):
        assert client.get(POSITION, REMOTE_ADDR="192.0.2.1").status_code == 404
    limited = client.get(POSITION, REMOTE_ADDR="192.0.2.1")
    assert limited.status_code == 429
    assert limited.json()["detail"].startswith("Request was throttled.") and int(limited["Retry-After"]) > 0
    assert client.get(POSITION, REMOTE_ADDR="192.0.2.2").status_code == 404


def test_the_api_is_limited_per_user(settings):
    settings.API_THROTTLE_ANON, settings.API_THROTTLE_USER = "1/day", "3/day"
    first, second = token_client(make_user("first")), token_client(make_user("second"))
    for _ in range(3):  # signed in, the user's rate applies, not the address's
        assert first.get(POSITION, REMOTE_ADDR="192.0.2.1").status_code == 404
    assert first.get(POSITION, REMOTE_ADDR="192.0.2.1").status_code == 429
    assert second.get(POSITION, REMOTE_ADDR="192.0.2.1").status_code == 404


def test_behind_the_proxy_the_address_it_adds_is_counted_not_one_the_client_forges(client, settings):
    settings.BEHIND_PROXY, settings.API_THROTTLE_ANON = True, "2/day"
    for forged in ("10.0.0.1", "10.0.0.2"):
        response = client.get(POSITION, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{forged}, 192.0.2.7")
        assert response.status_code == 404
    forged_again = client.get(POSITION, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.3, 192.0.2.7")
    assert forged_again.status_code == 429
    assert client.get(POSITION, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 404
    # A header that is no address (no proxy in front after all) counts the connection's address.
    garbage = client.get(POSITION, REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="<script>")
    assert garbage.status_code == 404
    signing_in = client.post("/accounts/login/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="unknown")
    assert signing_in.status_code == 200
