import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import stripe

WEBHOOK_SECRET = "whsec_unitysefer_tests"


def wait_until(predicate, timeout=30.0, interval=0.05):  # generous: CI machines are busy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture(scope="session")
def localstripe_url():
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("localstripe_server.py"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("PORT "), f"localstripe did not start: {line!r}"
        url = f"http://127.0.0.1:{int(line.split()[1])}"

        def ready():
            try:
                with urllib.request.urlopen(url + "/js.stripe.com/v3/", timeout=1):
                    return True
            except OSError:
                return False

        assert wait_until(ready), "localstripe did not answer"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


LOCALSTRIPE_DELIVERY_DELAY = 1.0


@pytest.fixture
def stripe_server(localstripe_url, live_server, settings):
    """The app under test talks to localstripe, which delivers signed events to its webhook."""
    settings.STRIPE_SECRET_KEY = "sk_test_unitysefer"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_unitysefer"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    # localstripe refuses automatic_payment_methods (an unexpected parameter): not sent to it.
    settings.STRIPE_AUTOMATIC_PAYMENT_METHODS = False
    urllib.request.urlopen(urllib.request.Request(localstripe_url + "/_config/data", method="DELETE")).close()
    register_webhook(localstripe_url, f"{live_server.url}/payments/stripe/webhook/")
    yield stripe.StripeClient("sk_test_unitysefer", base_addresses={"api": localstripe_url}, max_network_retries=0)
    # localstripe delivers each event about a second after it happens: send what is still to
    # come nowhere, and let a delivery under way finish, before the test's database is flushed
    # (a webhook writing while it is truncated deadlocks).
    register_webhook(localstripe_url, "http://127.0.0.1:9/nowhere/")
    time.sleep(LOCALSTRIPE_DELIVERY_DELAY + 0.3)


def sign(payload: bytes, secret=WEBHOOK_SECRET, timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def register_webhook(localstripe_url, url):
    """Where localstripe delivers its signed events (registering again replaces the address)."""
    body = json.dumps({"url": url, "secret": WEBHOOK_SECRET}).encode()
    request = urllib.request.Request(
        localstripe_url + "/_config/webhooks/unitysefer",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()


def stripe_requests(localstripe_url):
    """The API requests localstripe answered since the log was last emptied ("GET /v1/...")."""
    with urllib.request.urlopen(localstripe_url + "/_config/requests") as response:
        return json.load(response)


def stripe_requests_forget(localstripe_url):
    urllib.request.urlopen(urllib.request.Request(localstripe_url + "/_config/requests", method="DELETE")).close()
