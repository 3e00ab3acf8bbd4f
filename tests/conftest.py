import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import campaigns_seed


@pytest.fixture
def campaigns(db):
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    from scrolls.models import Campaign

    return {campaign.slug: campaign for campaign in Campaign.objects.all()}


def make_user(username, *, permissions=(), is_staff=False):
    user = User.objects.create_user(username, f"{username}@example.org", "a-long-test-password", is_staff=is_staff)
    for codename in permissions:
        app_label, code = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=code))
    return User.objects.get(pk=user.pk)  # fresh instance: permission cache empty


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def trusted_shliach(db):
    return make_user("trusted", permissions=["payments.record_offline_payment"])


@pytest.fixture
def plain_shliach(db):
    return make_user("plain")


@pytest.fixture
def staff_user(db):
    return make_user("staff", is_staff=True, permissions=["payments.record_offline_payment"])
