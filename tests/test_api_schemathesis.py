"""Schemathesis fuzzes every operation of /api/schema/ through the Django WSGI application (no
server), as a trusted shliach with a token: no answer is a server error, and every answer is
JSON of the shape the schema gives. Card payments go to localstripe, so "stripe" orders are real
too (without it they would answer 503 on purpose)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from .conftest import make_user
from .stripe_helpers import localstripe_url  # noqa: F401 (a fixture: the Stripe-compatible server)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fuzzing_token(campaigns):
    from rest_framework.authtoken.models import Token

    shliach = make_user("fuzzing-shliach", permissions=["payments.record_offline_payment"])
    return Token.objects.create(user=shliach).key


@pytest.fixture(autouse=True)
def card_payments_and_no_throttle(localstripe_url, settings):  # noqa: F811
    settings.API_THROTTLE_ANON = "100000/min"
    settings.API_THROTTLE_USER = "100000/min"
    settings.STRIPE_SECRET_KEY = "sk_test_unitysefer"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_unitysefer"
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_AUTOMATIC_PAYMENT_METHODS = False  # localstripe refuses the parameter


@pytest.fixture(autouse=True)
def connection_kept_between_requests():
    """Called straight through WSGI, each request's start and end would close the database
    connection (it is inside the test's transaction); Django's own test client does the same."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _schema():
    from unitysefer.wsgi import application

    # Read through the app at collection: the schema view needs no database.
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


schema = _schema()


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure can be run again
    phases=[Phase.explicit, Phase.generate],  # no shrinking: it is slow and the check names the case
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_without_a_server_error(case, fuzzing_token):
    response = case.call(headers={"Authorization": f"Token {fuzzing_token}"})
    case.validate_response(response, checks=[not_a_server_error, content_type_conformance, response_schema_conformance])
