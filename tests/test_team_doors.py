"""An order counts for a team whichever door it comes through: the admin's add form (a team of
the order's campaign only), a shliach's import (their own team of the campaign), and
order_place itself refuses a team of another campaign, saving nothing."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from allocation.models import Order, OrderChannel
from allocation.selectors import team_letters, teams_with_letters
from allocation.services import Buyer, order_mark_paid, order_place
from registrations.services import name_import_check, name_import_confirm, name_import_create, name_import_run
from teams.models import Team
from teams.services import team_create

from .conftest import make_user
from .factories import name_data
from .test_admin_doors import add_order_form
from .test_imports import HEADER, csv_bytes, rows

pytestmark = pytest.mark.django_db

SHLIACH_PERMISSIONS = ["accounts.register_names", "payments.record_offline_payment"]


@pytest.fixture
def shliach(db):
    return make_user("team-shliach", permissions=SHLIACH_PERMISSIONS)


@pytest.fixture
def team(campaigns, shliach):
    return team_create(campaign=campaigns["idf"], owner=shliach, name="Beit Chabad Haifa", goal_letters=10)


def test_order_place_refuses_a_team_of_another_campaign_and_saves_nothing(campaigns, team):
    with pytest.raises(ValidationError) as refused:
        order_place(
            campaign=campaigns["sefardi"],
            names=[name_data()],
            buyer=Buyer(name="Rivka", email="rivka@example.org"),
            team=team,
        )

    assert "team" in refused.value.message_dict
    assert not Order.objects.exists()


def test_an_admin_order_counts_for_the_team_chosen(client, campaigns, team):
    boss = User.objects.create_superuser("boss", "boss@example.org", "a-long-test-password")
    client.force_login(boss)

    response = client.post("/admin/allocation/order/add/", add_order_form(campaigns["idf"], team=team.pk))

    assert response.status_code == 302
    assert Order.objects.get().team == team


def test_an_admin_order_with_a_team_of_another_campaign_is_refused(client, campaigns, team):
    boss = User.objects.create_superuser("boss", "boss@example.org", "a-long-test-password")
    client.force_login(boss)

    response = client.post("/admin/allocation/order/add/", add_order_form(campaigns["sefardi"], team=team.pk))

    assert response.status_code == 200
    assert "another campaign" in response.content.decode()
    assert not Order.objects.exists()


def test_a_shliachs_import_counts_for_their_team_and_its_letters_once_paid(campaigns, shliach, team):
    campaign = campaigns["idf"]
    name_import = name_import_create(
        user=shliach, campaign=campaign, source_name="names.csv", content=csv_bytes(HEADER, list(rows(4)))
    )
    name_import_check(import_id=name_import.pk)
    name_import_confirm(import_id=name_import.pk, user=shliach, payment_method="offline", payment_reference="cash 7")
    name_import = name_import_run(import_id=name_import.pk)

    order = name_import.order
    assert (order.team, order.channel) == (team, OrderChannel.SHLIACH)
    assert team_letters(team=team) == 4
    assert teams_with_letters(Team.objects.filter(pk=team.pk)).get().letters == 4


def test_only_paid_orders_count_toward_a_team(campaigns, team):
    pending = order_place(
        campaign=campaigns["idf"], names=[name_data(0), name_data(1)], buyer=Buyer(email="a@example.org"), team=team
    )
    assert team_letters(team=team) == 0

    order_mark_paid(order_id=pending.pk)

    assert team_letters(team=team) == 2
