import pytest
from django.core.management import call_command

from allocation.models import Letter
from scrolls.models import Campaign, Scroll

from .factories import make_order

pytestmark = pytest.mark.django_db


def test_seed_campaigns_creates_seven_campaigns_once(capsys):
    call_command("seed_campaigns")
    assert "Created idf with scroll #1 open." in capsys.readouterr().out
    assert Campaign.objects.count() == 7
    # No text edition is loaded here, so the scrolls have the figure campaigns quote.
    assert Scroll.objects.filter(state="open", number=1, total_letters=304805).count() == 7
    assert Campaign.objects.get(slug="idf").currency == "ILS"

    call_command("seed_campaigns")
    assert "nothing changed" in capsys.readouterr().out
    assert Campaign.objects.count() == 7 and Scroll.objects.count() == 7


def test_home_lists_campaigns_with_progress(client, campaigns):
    from allocation.services import order_fulfil

    order_fulfil(order_id=make_order(campaigns["idf"], 3).pk)
    response = client.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    for campaign in campaigns.values():
        assert campaign.name in page and campaign.name_he in page
    assert "3 of 304,805 letters taken" in page
    assert 'aria-valuenow="3"' in page


def test_home_is_right_to_left_in_hebrew(client, campaigns):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    assert '<html lang="he" dir="rtl">' in page
    assert "bootstrap.rtl.min.css" in page


def test_admin_shows_every_model_and_letters_are_read_only(client, campaigns):
    from allocation.services import order_fulfil

    order_fulfil(order_id=make_order(campaigns["idf"], 1).pk)
    client.force_login(_superuser())
    for path in ["campaign", "scroll"]:
        assert client.get(f"/admin/scrolls/{path}/").status_code == 200
    for path in ["order", "name", "letter"]:
        assert client.get(f"/admin/allocation/{path}/").status_code == 200
    assert client.get("/admin/payments/payment/").status_code == 200
    letter = Letter.objects.get()
    assert client.get("/admin/allocation/letter/add/").status_code == 403
    detail = client.get(f"/admin/allocation/letter/{letter.pk}/change/")
    assert detail.status_code == 200 and 'name="position"' not in detail.content.decode()
    assert client.get(f"/admin/allocation/letter/{letter.pk}/delete/").status_code == 403


def _superuser():
    from django.contrib.auth.models import User

    return User.objects.create_superuser("root", "root@example.org", "a-long-test-password")


def test_superuser_and_api_token_commands_work_without_a_prompt(monkeypatch, capsys):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-test-password")
    call_command("createsuperuser", "--noinput", username="gabbai", email="gabbai@example.org")
    assert User.objects.get(username="gabbai").is_superuser
    call_command("drf_create_token", "gabbai")
    assert Token.objects.get(user__username="gabbai").key in capsys.readouterr().out
