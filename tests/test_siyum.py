"""The life of a scroll: honour letters kept for honourees (the walk skips them), a scroll that
fills spilling into the next, the siyum (staff only, once, only for a full scroll), the notices
to everyone holding a letter, the public pages of a campaign's scrolls, and the audit."""

import csv
import datetime
import io
import time

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from allocation.models import Letter, Name, Order, OrderChannel, Reservation
from allocation.services import (
    Buyer,
    order_fulfil,
    reservation_cancel,
    reservation_create,
    reservation_give,
    reservation_update,
)
from certificates.models import Certificate
from payments.models import Payment
from payments.services import payment_record_offline
from registrations.models import ImportStatus
from registrations.services import name_import_create, name_import_run
from scrolls.models import Campaign, Scroll, ScrollState
from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import campaigns_seed
from siyum.models import Siyum, SiyumNotice
from siyum.services import scroll_siyum_hold

from .conftest import make_user
from .factories import child_name_data, make_order, name_data, shrink_open_scroll

pytestmark = pytest.mark.django_db

MAM_TOTAL = 304_801


@pytest.fixture
def honour_campaigns(db):
    """The seeded campaigns with their defaults: two honour letters at each end of a scroll."""
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    return {campaign.slug: campaign for campaign in Campaign.objects.all()}


def open_scroll(campaign):
    return Scroll.objects.get(campaign=campaign, state=ScrollState.OPEN)


def reserved(scroll):
    return list(Reservation.objects.filter(scroll=scroll).order_by("position").values_list("position", flat=True))


def letters(scroll):
    return sorted(Letter.objects.filter(scroll=scroll).values_list("position", flat=True))


def honour(index=0, email=""):
    return {"name": name_data(index), "email": email}


def make_buyer(email):
    return Buyer(name="Buyer", email=email)


def fill(campaign, names, **kwargs):
    order = make_order(campaign, names, **kwargs)
    order_fulfil(order_id=order.pk)
    return order


def full_scroll(campaign, total=10, names=None):
    """A small scroll of the campaign, filled (its default honour letters 1, 2, total-1 and total
    kept), with the next one open."""
    scroll = shrink_open_scroll(campaign, total)
    fill(campaign, names or total - 4)
    scroll.refresh_from_db()
    assert scroll.state == ScrollState.FULL
    return scroll


# --- Honour letters and the walk ---------------------------------------------------------------


def test_a_new_scroll_keeps_its_first_and_last_two_letters_for_honourees(honour_campaigns):
    for slug in ("tomchei-temimim", "children"):  # sequential and lottery alike
        scroll = open_scroll(honour_campaigns[slug])
        total = scroll.total_letters
        assert reserved(scroll) == [1, 2, total - 1, total]
        assert all(r.is_default and r.reached_at is None and r.name_id is None for r in scroll.reservations.all())


def test_the_walk_skips_honour_letters_and_spills_into_the_next_scroll_with_its_own(honour_campaigns):
    campaign = honour_campaigns["idf"]
    shrink_open_scroll(campaign, 10)  # honour letters 1, 2, 9 and 10
    first = fill(campaign, 4)
    spilling = fill(campaign, 4)

    one, two = Scroll.objects.filter(campaign=campaign).order_by("number")
    assert sorted(Letter.objects.filter(name__order=first).values_list("position", flat=True)) == [3, 4, 5, 6]
    assert [(l.scroll.number, l.position) for l in Letter.objects.filter(name__order=spilling).order_by("name_id")] == [
        (1, 7), (1, 8), (2, 3), (2, 4)
    ]  # fmt: skip
    # Scroll 1 is full: the walk went on over its last two (reserved) steps, so it closed.
    assert (one.state, one.steps_walked, one.letters_allocated) == (ScrollState.FULL, 10, 6)
    assert one.filled_at is not None
    assert not Reservation.objects.filter(scroll=one, reached_at__isnull=True).exists()
    assert (two.state, two.steps_walked, two.letters_allocated) == (ScrollState.OPEN, 4, 2)
    assert reserved(two) == [1, 2, 9, 10]
    assert list(two.reservations.filter(reached_at__isnull=False).values_list("position", flat=True)) == [1, 2]


def test_an_order_that_exactly_fills_the_free_letters_closes_the_scroll(honour_campaigns):
    campaign = honour_campaigns["sefardi"]
    shrink_open_scroll(campaign, 10)
    fill(campaign, 6)
    one, two = Scroll.objects.filter(campaign=campaign).order_by("number")
    assert (one.state, one.steps_walked, one.letters_allocated) == (ScrollState.FULL, 10, 6)
    assert (two.state, two.steps_walked, two.letters_allocated) == (ScrollState.OPEN, 0, 0)


def test_a_lottery_scroll_skips_its_honour_letters_too(honour_campaigns):
    campaign = honour_campaigns["children"]
    scroll = shrink_open_scroll(campaign, 60)
    order = make_order(campaign, names=[child_name_data(i) for i in range(58)])
    order_fulfil(order_id=order.pk)
    scroll.refresh_from_db()
    given = letters(scroll)
    assert scroll.state == ScrollState.FULL and scroll.steps_walked == 60
    assert sorted(given + reserved(scroll)) == list(range(1, 61)), "each position once, letter or honour"
    walked = list(Letter.objects.filter(scroll=scroll).order_by("id").values_list("position", flat=True))
    assert walked != sorted(walked), "lottery positions, not in rising order"
    second = open_scroll(campaign)
    assert second.is_lottery and reserved(second) == [1, 2, 59, 60] and second.letters_allocated == 2


def test_staff_reserve_a_letter_ahead_and_the_walk_passes_it(honour_campaigns, staff_user):
    campaign = honour_campaigns["beis-rivkah"]
    scroll = shrink_open_scroll(campaign, 20)
    fill(campaign, 3)  # letters 3, 4, 5
    reservation = reservation_create(
        scroll_id=scroll.pk, position=8, honouree="The Rosh Yeshiva", note="At the dinner", created_by=staff_user
    )
    assert reservation.created_by == staff_user and not reservation.is_default
    order = fill(campaign, 4)
    assert sorted(Letter.objects.filter(name__order=order).values_list("position", flat=True)) == [6, 7, 9, 10]
    reservation.refresh_from_db()
    assert reservation.reached_at is not None


@pytest.mark.parametrize(
    "position, message",
    [
        (3, "already written for"),
        (1, "already reserved"),
        (21, "from 1 to 20"),
        (0, "from 1 to 20"),
    ],
)
def test_reserving_a_letter_written_reserved_or_outside_is_refused(honour_campaigns, staff_user, position, message):
    campaign = honour_campaigns["idf"]
    scroll = shrink_open_scroll(campaign, 20)
    fill(campaign, 1)  # letter 3
    with pytest.raises(ValidationError) as refused:
        reservation_create(scroll_id=scroll.pk, position=position, honouree="Someone", created_by=staff_user)
    assert message in " ".join(refused.value.messages)


def test_only_staff_reserve_and_give(honour_campaigns, trusted_shliach):
    scroll = open_scroll(honour_campaigns["idf"])
    with pytest.raises(PermissionDenied):
        reservation_create(scroll_id=scroll.pk, position=100, honouree="x", created_by=trusted_shliach)
    with pytest.raises(PermissionDenied):
        reservation_give(reservation_id=scroll.reservations.first().pk, name=name_data(), given_by=trusted_shliach)


def test_a_reserved_letter_not_reached_may_be_released_but_not_one_reached(honour_campaigns, staff_user):
    campaign = honour_campaigns["idf"]
    scroll = shrink_open_scroll(campaign, 20)
    fill(campaign, 1)
    ahead = reservation_create(scroll_id=scroll.pk, position=12, honouree="x", created_by=staff_user)
    reservation_cancel(reservation_id=ahead.pk, cancelled_by=staff_user)
    assert not Reservation.objects.filter(pk=ahead.pk).exists()
    first = Reservation.objects.get(scroll=scroll, position=1)  # passed by the walk
    with pytest.raises(ValidationError):
        reservation_cancel(reservation_id=first.pk, cancelled_by=staff_user)


def test_the_database_keeps_honour_letters_for_their_honourees(honour_campaigns, staff_user):
    campaign = honour_campaigns["idf"]
    scroll = shrink_open_scroll(campaign, 20)
    order = fill(campaign, 2)  # letters 3, 4; letters 1 and 2 reached
    stranger = make_order(campaign, 1).names.get()
    given = reservation_give(
        reservation_id=Reservation.objects.get(scroll=scroll, position=1).pk, name=name_data(3), given_by=staff_user
    ).names.get()
    with pytest.raises(IntegrityError), transaction.atomic():  # another name at a reserved position
        Letter.objects.create(scroll=scroll, position=19, name=stranger)
    with pytest.raises(IntegrityError), transaction.atomic():  # a reservation on a letter written
        Reservation.objects.create(scroll=scroll, position=3, honouree="x")
    with pytest.raises(IntegrityError), transaction.atomic():  # a reservation outside the scroll
        Reservation.objects.create(scroll=scroll, position=21, honouree="x")
    with pytest.raises(IntegrityError), transaction.atomic():  # a reservation reached, deleted
        Reservation.objects.filter(scroll=scroll, position=2).delete()
    with pytest.raises(IntegrityError), transaction.atomic():  # a given one handed to another name
        Reservation.objects.filter(scroll=scroll, position=1).update(name=stranger)
    with pytest.raises(IntegrityError), transaction.atomic():  # the scroll made smaller than its honours
        Scroll.objects.filter(pk=scroll.pk).update(total_letters=15)
    assert Letter.objects.get(scroll=scroll, position=1).name == given
    assert order.names.filter(letter__isnull=False).count() == 2


def test_an_honour_letter_is_given_as_a_paid_order_with_a_certificate(
    honour_campaigns, staff_user, settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = True
    campaign = honour_campaigns["tomchei-temimim"]
    scroll = open_scroll(campaign)
    first = Reservation.objects.get(scroll=scroll, position=1)
    with django_capture_on_commit_callbacks(execute=True):
        # A new scroll: the walk steps over the first two letters (both reserved) to give one.
        order = reservation_give(
            reservation_id=first.pk, name=name_data(0), email="Honouree@Example.org", given_by=staff_user
        )
    assert (order.channel, order.status, order.amount, order.created_by) == (OrderChannel.HONOUR, "paid", 0, staff_user)
    assert order.allocated_at is not None and order.buyer_email == "Honouree@Example.org"
    name = order.names.get()
    assert Letter.objects.get(name=name).position == 1
    first.refresh_from_db()
    assert (first.name, first.given_by) == (name, staff_user) and first.given_at is not None
    scroll.refresh_from_db()
    assert (scroll.steps_walked, scroll.letters_allocated) == (2, 1)
    assert Certificate.objects.filter(name=name).exists()
    assert {message.to[0] for message in mailoutbox} == {"Honouree@Example.org"}
    with pytest.raises(ValidationError, match="already been given"):
        reservation_give(reservation_id=first.pk, name=name_data(1), given_by=staff_user)
    # The last letters are reached only when everything before them is taken.
    last = Reservation.objects.get(scroll=scroll, position=scroll.total_letters)
    with pytest.raises(ValidationError, match="not reached"):
        reservation_give(reservation_id=last.pk, name=name_data(1), given_by=staff_user)


# --- The siyum -------------------------------------------------------------------------------


def honours_for(scroll):
    return {
        position: honour(index, email=f"honouree{position}@example.org")
        for index, position in enumerate(reserved(scroll))
        if not Reservation.objects.get(scroll=scroll, position=position).is_given
    }


def test_the_siyum_gives_the_remaining_honours_completes_the_scroll_and_lists_everyone_once(
    honour_campaigns, staff_user, trusted_shliach
):
    campaign = honour_campaigns["idf"]
    scroll = shrink_open_scroll(campaign, 12)  # 8 free letters
    fill(campaign, 3, buyer=make_buyer("Sara@Example.org"))
    fill(campaign, 2, buyer=make_buyer("sara@example.org"))  # the same person, another spelling
    fill(campaign, 1, buyer=make_buyer(""), created_by=trusted_shliach)  # a shliach's, without an email
    fill(campaign, 2, buyer=make_buyer("dovid@example.org"))
    scroll.refresh_from_db()
    assert scroll.state == ScrollState.FULL
    given_early = Reservation.objects.get(scroll=scroll, position=1)
    reservation_give(reservation_id=given_early.pk, name=name_data(5), email="early@example.org", given_by=staff_user)

    siyum = scroll_siyum_hold(
        scroll_id=scroll.pk,
        held_on=datetime.date.today(),
        place="770 Eastern Parkway",
        notes="The last letters were written by the Rosh Yeshiva.",
        honours={2: honour(1), 11: honour(2, "Dovid@example.org"), 12: honour(3, "last@example.org")},
        held_by=staff_user,
    )
    scroll.refresh_from_db()
    assert (scroll.state, scroll.letters_allocated) == (ScrollState.COMPLETED, 12) and scroll.completed_at
    assert letters(scroll) == list(range(1, 13))
    assert not Reservation.objects.filter(scroll=scroll, name__isnull=True).exists()
    assert (siyum.place, siyum.held_by) == ("770 Eastern Parkway", staff_user)
    assert dict(SiyumNotice.objects.filter(siyum=siyum).values_list("email", "letters")) == {
        "sara@example.org": 5,
        "trusted@example.org": 1,
        "dovid@example.org": 3,
        "early@example.org": 1,
        "last@example.org": 1,
    }  # an honour letter given without an email has nobody to tell
    assert open_scroll(campaign).number == 2  # sales went on in the next scroll all along


def test_the_siyum_is_refused_for_a_scroll_not_full_twice_without_every_honour_or_to_non_staff(
    honour_campaigns, staff_user, trusted_shliach
):
    campaign = honour_campaigns["idf"]
    scroll = shrink_open_scroll(campaign, 10)
    fill(campaign, 3)
    hold = dict(held_on=datetime.date.today(), place="Crown Heights", held_by=staff_user)
    with pytest.raises(ValidationError, match="not full yet"):
        scroll_siyum_hold(scroll_id=scroll.pk, honours=honours_for(scroll), **hold)
    fill(campaign, 3)
    with pytest.raises(PermissionDenied):
        scroll_siyum_hold(scroll_id=scroll.pk, honours=honours_for(scroll), **{**hold, "held_by": trusted_shliach})
    with pytest.raises(ValidationError) as refused:
        scroll_siyum_hold(scroll_id=scroll.pk, honours={1: honour(0)}, **hold)
    assert "letters 2, 9, 10 are not given yet" in " ".join(refused.value.messages)
    bad = {**honours_for(scroll), 9: {"name": name_data(0, hebrew_name="Moshe"), "email": ""}}
    with pytest.raises(ValidationError) as refused:
        scroll_siyum_hold(scroll_id=scroll.pk, honours=bad, **hold)
    assert "honour_9" in refused.value.message_dict
    in_three_days = datetime.date.today() + datetime.timedelta(days=3)
    with pytest.raises(ValidationError, match="once it has been held"):
        scroll_siyum_hold(scroll_id=scroll.pk, honours=honours_for(scroll), **{**hold, "held_on": in_three_days})
    assert Scroll.objects.get(pk=scroll.pk).state == ScrollState.FULL and not Siyum.objects.exists()
    assert not Order.objects.filter(channel=OrderChannel.HONOUR).exists(), "a refused siyum writes nothing"

    scroll_siyum_hold(scroll_id=scroll.pk, honours=honours_for(scroll), **hold)
    with pytest.raises(ValidationError, match="already been held"):
        scroll_siyum_hold(scroll_id=scroll.pk, honours={}, **hold)
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database refuses a second
        Siyum.objects.create(scroll=scroll, held_on=datetime.date.today(), place="x", held_by=staff_user)


def test_the_database_refuses_to_complete_a_scroll_with_a_letter_not_written(honour_campaigns):
    campaign = honour_campaigns["idf"]
    scroll = full_scroll(campaign)
    with pytest.raises(IntegrityError), transaction.atomic():
        Scroll.objects.filter(pk=scroll.pk).update(state=ScrollState.COMPLETED, completed_at=scroll.filled_at)
    with pytest.raises(IntegrityError), transaction.atomic():  # nor close one the walk has not finished
        Scroll.objects.filter(pk=open_scroll(campaign).pk).update(state=ScrollState.FULL, filled_at=scroll.filled_at)


def test_the_siyum_notices_go_to_each_address_once_and_a_second_run_sends_nothing(
    honour_campaigns, staff_user, django_capture_on_commit_callbacks, mailoutbox, settings
):
    from siyum.services import siyum_notices_send

    settings.SIYUM_NOTICE_BATCH_SIZE = 2  # several batches, run one after another in-process
    campaign = honour_campaigns["beis-rivkah"]
    scroll = shrink_open_scroll(campaign, 12)
    for index in range(8):
        fill(campaign, 1, buyer=make_buyer(f"holder{index % 5}@example.org"))
    with django_capture_on_commit_callbacks(execute=True):
        siyum = scroll_siyum_hold(
            scroll_id=scroll.pk, held_on=datetime.date.today(), place="Beis Rivkah", honours=honours_for(scroll),
            held_by=staff_user,
        )  # fmt: skip
    notices = [message for message in mailoutbox if "siyum" in message.subject]
    assert sorted(message.to[0] for message in notices) == sorted(
        [f"holder{i}@example.org" for i in range(5)] + [f"honouree{p}@example.org" for p in (1, 2, 11, 12)]
    )
    body = notices[0].body
    assert "Beis Rivkah" in body and f"/campaigns/beis-rivkah/scrolls/{scroll.number}/" in body
    # The siyum's day in both calendars.
    from django.utils.formats import date_format

    from scrolls.calendars import hebrew_date

    held_on = datetime.date.today()
    assert date_format(held_on, "DATE_FORMAT") in body and hebrew_date(held_on) in body
    assert not SiyumNotice.objects.filter(sent_at__isnull=True).exists()
    assert siyum_notices_send(siyum_id=siyum.pk, limit=100) == 0
    assert len([message for message in mailoutbox if "siyum" in message.subject]) == len(notices)


# --- Pages -----------------------------------------------------------------------------------


def test_the_siyum_pages_are_for_staff_only(client, honour_campaigns, trusted_shliach, staff_user):
    scroll = full_scroll(honour_campaigns["idf"])
    for url in (reverse("siyum:list"), reverse("siyum:hold", args=[scroll.pk]), reverse("siyum:honours")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
        client.force_login(trusted_shliach)
        assert client.get(url).status_code == 403
        client.logout()
    client.force_login(staff_user)
    page = client.get(reverse("siyum:list")).content.decode()
    assert f'data-scroll="{scroll.pk}"' in page and "4 honour letters remain to be given" in page


def test_staff_hold_the_siyum_from_the_page_after_confirming(client, honour_campaigns, staff_user):
    campaign = honour_campaigns["idf"]
    scroll = full_scroll(campaign)
    client.force_login(staff_user)
    url = reverse("siyum:hold", args=[scroll.pk])
    form = client.get(url).content.decode()
    assert 'name="honour-10-hebrew_name"' in form and 'name="confirm"' in form
    data = {"held_on": datetime.date.today().isoformat(), "place": "Kfar Chabad", "notes": "With the soldiers."}
    for index, position in enumerate((1, 2, 9, 10)):
        for field, value in name_data(index).items():
            data[f"honour-{position}-{field}"] = value
    unconfirmed = client.post(url, data)
    assert unconfirmed.status_code == 200 and not Siyum.objects.exists()
    confirmed = client.post(url, {**data, "confirm": "on"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("scroll-detail", kwargs={"slug": "idf", "number": scroll.number})
    scroll.refresh_from_db()
    assert scroll.state == ScrollState.COMPLETED
    assert client.post(url, {**data, "confirm": "on"}).status_code == 404  # no longer waiting for its siyum


def test_staff_reserve_and_give_honour_letters_from_their_page(client, honour_campaigns, staff_user):
    campaign = honour_campaigns["sefardi"]
    scroll = shrink_open_scroll(campaign, 30)
    fill(campaign, 2)
    client.force_login(staff_user)
    response = client.post(
        reverse("siyum:honours"), {"scroll": scroll.pk, "position": 3, "honouree": "Rabbi X", "note": ""}
    )
    assert "already written" in response.content.decode()
    response = client.post(
        reverse("siyum:honours"), {"scroll": scroll.pk, "position": 7, "honouree": "Rabbi X", "note": "gabbai"}
    )
    assert response.status_code == 302
    reservation = Reservation.objects.get(scroll=scroll, position=7)
    first = Reservation.objects.get(scroll=scroll, position=1)
    assert 'name="hebrew_name"' in client.get(reverse("siyum:honour-give", args=[first.pk])).content.decode()
    response = client.post(reverse("siyum:honour-give", args=[first.pk]), {**name_data(2), "email": ""})
    assert response.status_code == 302 and Letter.objects.filter(scroll=scroll, position=1).exists()
    page = client.get(reverse("siyum:honours")).content.decode()
    assert "Rabbi X" in page and 'data-position="7"' in page
    assert reservation.history.first().history_user == staff_user  # the audit: who, from the request


def test_an_honour_letter_is_given_with_a_dedication_and_listed_only_when_ticked(client, honour_campaigns, staff_user):
    scroll = open_scroll(honour_campaigns["idf"])
    first, second = Reservation.objects.filter(scroll=scroll, position__in=(1, 2)).order_by("position")
    client.force_login(staff_user)
    form = client.get(reverse("siyum:honour-give", args=[first.pk])).content.decode()
    assert 'name="dedication_kind"' in form and 'name="dedication_text"' in form and 'name="listed"' in form
    assert 'name="listed" checked' not in form  # not listed unless ticked

    # "In memory of" ticked with another dedication: refused, said on the field, nothing written.
    conflict = {**name_data(0), "deceased": "on", "dedication_kind": "success", "email": ""}
    response = client.post(reverse("siyum:honour-give", args=[first.pk]), conflict)
    assert response.status_code == 200 and response.context["form"].errors["dedication_kind"]
    assert not Letter.objects.filter(scroll=scroll, position=1).exists()

    data = {**name_data(0), "dedication_kind": "in_memory", "dedication_text": "לעילוי נשמת הרב", "email": ""}
    response = client.post(reverse("siyum:honour-give", args=[first.pk]), data)
    assert response.status_code == 302
    name = Letter.objects.get(scroll=scroll, position=1).name
    assert (name.dedication_kind, name.dedication_text, name.deceased, name.listed) == (
        "in_memory",
        "לעילוי נשמת הרב",
        True,
        False,
    )
    data = {**name_data(1), "dedication_kind": "in_honour", "listed": "on", "email": ""}
    assert client.post(reverse("siyum:honour-give", args=[second.pk]), data).status_code == 302
    name = Letter.objects.get(scroll=scroll, position=2).name
    assert (name.dedication_kind, name.dedication_text, name.deceased, name.listed) == ("in_honour", "", False, True)


def test_staff_name_a_default_honour_letter_and_note_it_from_their_page(
    client, honour_campaigns, staff_user, trusted_shliach
):
    scroll = open_scroll(honour_campaigns["idf"])
    first = Reservation.objects.get(scroll=scroll, position=1)
    assert first.is_default and first.honouree == ""  # made with the scroll, for nobody yet
    url = reverse("siyum:honour-edit", args=[first.pk])
    assert client.get(url)["Location"].startswith(reverse("accounts:login"))
    client.force_login(trusted_shliach)
    assert client.get(url).status_code == 403
    assert client.post(url, {"honouree": "Someone", "note": ""}).status_code == 403
    with pytest.raises(PermissionDenied):
        reservation_update(reservation_id=first.pk, honouree="Someone", note="", updated_by=trusted_shliach)

    client.force_login(staff_user)
    assert url in client.get(reverse("siyum:honours")).content.decode()  # linked from the honours page
    assert 'name="honouree"' in client.get(url).content.decode()
    unnamed = client.post(url, {"honouree": "  ", "note": "x"})
    assert unnamed.status_code == 200 and unnamed.context["form"].errors["honouree"]
    response = client.post(url, {"honouree": "Rabbi Levi", "note": "The rav of the shul, at the dinner"})
    assert response.status_code == 302 and response["Location"] == reverse("siyum:honours")
    first.refresh_from_db()
    assert (first.honouree, first.note) == ("Rabbi Levi", "The rav of the shul, at the dinner")
    page = client.get(reverse("siyum:honours")).content.decode()
    assert "Rabbi Levi" in page and "The rav of the shul, at the dinner" in page
    latest, before = first.history.all()[:2]
    assert (latest.history_user, before.honouree, latest.honouree) == (staff_user, "", "Rabbi Levi")

    # Once given, it stays as written: the page says so, a POST changes nothing, nor does the service.
    reservation_give(reservation_id=first.pk, name=name_data(0), given_by=staff_user)
    assert url not in client.get(reverse("siyum:honours")).content.decode()
    page = client.get(url).content.decode()
    assert "it stays as it was written" in page and 'name="honouree"' not in page
    client.post(url, {"honouree": "Someone else", "note": ""})
    with pytest.raises(ValidationError, match="stays as it was written"):
        reservation_update(reservation_id=first.pk, honouree="Someone else", note="", updated_by=staff_user)
    first.refresh_from_db()
    assert first.honouree == "Rabbi Levi"


def test_the_public_pages_of_a_campaign_and_its_scrolls(client, honour_campaigns, staff_user):
    campaign = honour_campaigns["idf"]
    scroll = full_scroll(campaign)
    scroll_siyum_hold(
        scroll_id=scroll.pk, held_on=datetime.date(2025, 3, 2), place="Kfar Chabad", notes="A great day.",
        honours=honours_for(scroll), held_by=staff_user,
    )  # fmt: skip
    listing = client.get(reverse("campaign-detail", kwargs={"slug": "idf"})).content.decode()
    assert 'data-number="1"' in listing and 'data-number="2"' in listing and "Kfar Chabad" in listing
    page = client.get(reverse("scroll-detail", kwargs={"slug": "idf", "number": 1}))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Kfar Chabad" in text and "A great day." in text and '<dd class="col-sm-8" id="names-count">10 ' in text
    assert "Completed (siyum held)" in text
    assert client.get(reverse("scroll-detail", kwargs={"slug": "idf", "number": 9})).status_code == 404


# --- The audit -------------------------------------------------------------------------------


def test_changes_by_people_are_recorded_with_who_and_before_and_after(client, honour_campaigns, staff_user):
    campaign = honour_campaigns["idf"]
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "a-long-test-password"))
    url = reverse("admin:scrolls_campaign_change", args=[campaign.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({"price": "36.00", "scrolls-TOTAL_FORMS": "0", "scrolls-INITIAL_FORMS": "0"})
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    latest, before = campaign.history.all()[:2]
    assert latest.history_user.username == "admin" and latest.history_type == "~"
    delta = latest.diff_against(before)
    changes = [(change.field, str(change.old), str(change.new)) for change in delta.changes]
    assert changes == [("price", "18.00", "36.00")]
    assert client.get(reverse("admin:scrolls_campaign_history", args=[campaign.pk])).status_code == 200

    # Orders, scrolls, honour letters and the siyum keep theirs; the walk's counters do not
    # write a record per order.
    scroll = shrink_open_scroll(campaign, 10)
    records = scroll.history.count()
    fill(campaign, 3)
    fill(campaign, 3)
    assert [record.state for record in scroll.history.order_by("history_id")][records:] == ["full"]
    order = Order.objects.filter(campaign=campaign).latest("id")
    assert [record.status for record in order.history.order_by("history_id")][:2] == ["pending", "paid"]
    siyum = scroll_siyum_hold(
        scroll_id=scroll.pk, held_on=datetime.date.today(), place="x", honours=honours_for(scroll), held_by=staff_user
    )
    assert siyum.history.get().history_type == "+"
    states = list(scroll.history.order_by("history_id"))[records:]
    assert [(record.state, record.history_user) for record in states] == [("full", None), ("completed", staff_user)]
    made, given = Reservation.objects.get(scroll=scroll, position=10).history.order_by("history_id")
    assert (made.history_type, made.name, given.history_type, given.history_user) == ("+", None, "~", staff_user)
    assert given.name is not None and given.given_by == staff_user


def test_staff_without_model_permissions_read_the_audited_records_and_their_history_but_change_nothing(
    client, honour_campaigns, staff_user
):
    campaign = honour_campaigns["idf"]
    order = make_order(campaign, 1)
    payment = payment_record_offline(order=order, reference="receipt 1", recorded_by=staff_user)
    held = full_scroll(honour_campaigns["sefardi"])
    siyum = scroll_siyum_hold(
        scroll_id=held.pk, held_on=datetime.date.today(), place="x", honours=honours_for(held), held_by=staff_user
    )
    reservation = Reservation.objects.filter(scroll__campaign=campaign).first()
    plain = make_user("plain-staff", is_staff=True)  # Django's is_staff, not a single model permission
    audited = [
        ("scrolls", "campaign", campaign),
        ("scrolls", "scroll", open_scroll(campaign)),
        ("allocation", "reservation", reservation),
        ("siyum", "siyum", siyum),
        ("allocation", "order", order),
        ("payments", "payment", payment),
    ]

    client.force_login(make_user("signed-in-buyer"))  # not staff: the admin is not for them
    for app, model, record in audited:
        history = reverse(f"admin:{app}_{model}_history", args=[record.pk])
        for url in (reverse(f"admin:{app}_{model}_changelist"), history):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url

    client.force_login(plain)
    index = client.get(reverse("admin:index")).content.decode()
    for app, model, record in audited:
        assert reverse(f"admin:{app}_{model}_changelist") in index
        assert client.get(reverse(f"admin:{app}_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:{app}_{model}_change", args=[record.pk])).status_code == 200
        history = client.get(reverse(f"admin:{app}_{model}_history", args=[record.pk]))
        assert history.status_code == 200 and history.context["page_obj"].object_list
        assert client.get(reverse(f"admin:{app}_{model}_add")).status_code == 403

    # Nothing changes: not the form, not a revert from the history, not a refund.
    url = reverse("admin:scrolls_campaign_change", args=[campaign.pk])
    assert client.post(url, {"name": "Renamed", "price": "1.00"}).status_code == 403
    first_version = campaign.history.earliest("history_id")
    campaign.price = 36
    campaign.save()
    revert = reverse("admin:scrolls_campaign_simple_history", args=[campaign.pk, first_version.history_id])
    form = client.get(revert).context["adminform"].form  # the version, to read
    data = {name: value for name, value in form.initial.items() if value is not None}
    # django-simple-history would save this form, having checked only that the user may view.
    assert client.post(revert, {**data, "name": "Renamed", "price": "1.00"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.name != "Renamed" and campaign.price == 36
    assert client.post(reverse("admin:allocation_order_change", args=[order.pk]), {}).status_code == 403
    client.post(reverse("admin:payments_payment_changelist"), {"action": "refund", "_selected_action": [payment.pk]})
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_a_bulk_import_paid_offline_names_the_shliach_in_the_history_of_its_order_and_payment(
    honour_campaigns, trusted_shliach
):
    campaign = honour_campaigns["idf"]
    content = "hebrew_name,parent_hebrew_name,gender\nשרה,לאה,f\nמשה,לאה,m\n".encode()
    name_import = name_import_create(
        user=trusted_shliach, campaign=campaign, source_name="names.csv", content=content,
        payment_method="offline", payment_reference="receipt 18",
    )  # fmt: skip
    order = name_import_run(import_id=name_import.pk).order  # as the task runs it: outside any request
    order.refresh_from_db()
    assert order.status == "paid" and order.allocated_at is not None
    records = [(r.history_type, r.status, r.history_user) for r in order.history.order_by("history_id")]
    # Made and paid by the shliach, and nothing else: the allocation's mark (allocated_at) is the
    # machine's, saved without a record as the walk's counters are (issue 22).
    assert records[0] == ("+", "pending", trusted_shliach)
    assert records[-1] == ("~", "paid", trusted_shliach)
    assert all(user == trusted_shliach for _type, _status, user in records)
    payment = Payment.objects.get(order=order)
    assert [(r.history_type, r.history_user) for r in payment.history.all()] == [("+", trusted_shliach)]
    # An order made through the API by a shliach is theirs in the history too.
    made = make_order(campaign, 1, created_by=trusted_shliach)
    assert made.history.get().history_user == trusted_shliach


def test_a_name_holding_a_letter_is_corrected_with_a_history_and_never_moves_to_another_order(client, honour_campaigns):
    campaign = honour_campaigns["idf"]
    order, other = fill(campaign, 1), make_order(campaign, 1)
    name = order.names.get()
    letter = Letter.objects.get(name=name)
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "a-long-test-password"))
    url = reverse("admin:allocation_name_change", args=[name.pk])
    page = client.get(url)
    assert str(letter) in page.content.decode()  # the letter it holds, beside the form
    form = page.context["adminform"].form
    assert "order" not in form.fields  # read-only: a name is never moved
    data = {field: value for field, value in form.initial.items() if value is not None}
    # A correction of the spelling, with an attempt to move the name riding along: ignored.
    response = client.post(url, {**data, "hebrew_name": "מנחם", "order": other.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    name.refresh_from_db()
    assert (name.hebrew_name, name.order_id) == ("מנחם", order.pk)
    corrected = name.history.get()  # bulk_create recorded nothing; the correction is recorded
    assert corrected.history_user.username == "admin" and corrected.history_type == "~"
    assert client.get(reverse("admin:allocation_name_history", args=[name.pk])).status_code == 200
    assert Letter.objects.get(pk=letter.pk).name_id == name.pk

    # Nor from anywhere else: the database refuses to move a name to another order.
    with pytest.raises(IntegrityError, match="a name stays in its order"), transaction.atomic():
        Name.objects.filter(pk=name.pk).update(order=other)
    Name.objects.filter(pk=name.pk).update(hebrew_name="מנחם מענדל")  # a spelling, in SQL too
    assert Name.objects.get(pk=name.pk).order_id == order.pk


# --- A whole real scroll ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_whole_real_scroll_filled_by_bulk_import_with_honours_spills_into_the_next(
    honour_campaigns, default_edition, staff_user, capsys
):
    campaign = honour_campaigns["tomchei-temimim"]
    scroll = open_scroll(campaign)  # moved to the MAM text, its honour letters with it
    assert (scroll.total_letters, reserved(scroll)) == (MAM_TOTAL, [1, 2, MAM_TOTAL - 1, MAM_TOTAL])
    spill = 5
    count = MAM_TOTAL - 4 + spill
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["hebrew_name", "parent_hebrew_name", "gender", "family_name", "city", "country"])
    for index in range(count):
        boy = index % 2
        writer.writerow(
            ["מנחם מענדל" if boy else "חיה מושקא", "רבקה", "m" if boy else "f", f"F{index}", "Brooklyn", "US"]
        )
    started = time.perf_counter()
    name_import = name_import_create(
        user=staff_user, campaign=campaign, source_name="scroll.csv", content=text.getvalue().encode(),
        payment_method="offline", payment_reference="x",
    )  # fmt: skip
    name_import = name_import_run(import_id=name_import.pk)
    seconds = time.perf_counter() - started
    assert name_import.status == ImportStatus.IMPORTED, name_import.problems[:5]

    scroll.refresh_from_db()
    assert (scroll.state, scroll.steps_walked, scroll.letters_allocated) == (ScrollState.FULL, MAM_TOTAL, MAM_TOTAL - 4)
    written = list(Letter.objects.filter(scroll=scroll).values_list("position", flat=True))
    assert sorted(written + reserved(scroll)) == list(range(1, MAM_TOTAL + 1)), "every position once: letter or honour"
    assert not Reservation.objects.filter(scroll=scroll, reached_at__isnull=True).exists()
    following = open_scroll(campaign)
    assert (following.number, following.total_letters) == (2, MAM_TOTAL)
    assert reserved(following) == [1, 2, MAM_TOTAL - 1, MAM_TOTAL]
    assert letters(following) == [3, 4, 5, 6, 7] and following.letters_allocated == spill
    assert not Name.objects.filter(order_id=name_import.order_id, letter__isnull=True).exists()

    siyum = scroll_siyum_hold(
        scroll_id=scroll.pk, held_on=datetime.date.today(), place="770", honours=honours_for(scroll), held_by=staff_user
    )
    scroll.refresh_from_db()
    assert scroll.state == ScrollState.COMPLETED and scroll.letters_allocated == MAM_TOTAL
    assert SiyumNotice.objects.filter(siyum=siyum).count() == 5  # the shliach and four honourees
    with capsys.disabled():
        print(
            f"\n{count:,} names imported into a whole scroll (its honour letters kept) and the next in {seconds:.1f} s"
        )


# --- Under concurrency -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_orders_paid_at_once_and_staff_reserving_meanwhile_never_write_on_an_honour_letter():
    from .test_allocation_concurrency import run_at_the_same_moment

    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    staff = User.objects.create_user("staff", "staff@example.org", "a-long-test-password", is_staff=True)
    campaign = Campaign.objects.get(slug="idf")
    shrink_open_scroll(campaign, 23)  # each scroll: 19 letters to sell; the orders fill several
    orders = [make_order(campaign, 1 + index % 7) for index in range(24)]

    def pay(order_id):
        return lambda: order_fulfil(order_id=order_id)

    def reserve():
        """Staff reserve just ahead of the walk of whichever scroll is open, again and again."""
        for _round in range(20):
            scroll = Scroll.objects.get(campaign=campaign, state=ScrollState.OPEN)
            try:
                reservation_create(
                    scroll_id=scroll.pk, position=min(scroll.steps_walked + 2, 20), honouree="x", created_by=staff
                )
            except ValidationError:
                pass  # written, reserved or passed meanwhile: refused, as it should be

    run_at_the_same_moment([pay(order.pk) for order in orders] + [reserve])

    assert not Name.objects.filter(order__in=orders, letter__isnull=True).exists()
    assert Reservation.objects.filter(scroll__campaign=campaign, created_by=staff).exists()
    scrolls = list(Scroll.objects.filter(campaign=campaign).order_by("number"))
    assert len(scrolls) >= 3 and [s.state for s in scrolls].count(ScrollState.OPEN) == 1
    for scroll in scrolls:
        taken = letters(scroll) + reserved(scroll)
        assert len(taken) == len(set(taken)), f"{scroll}: a position twice"
        assert Letter.objects.filter(scroll=scroll, position__in=reserved(scroll)).count() == 0
        if scroll.state == ScrollState.FULL:
            assert sorted(taken) == list(range(1, 24)), f"{scroll} is full with a gap"
        else:
            assert sorted(taken)[: scroll.steps_walked] == list(range(1, scroll.steps_walked + 1))
        assert scroll.letters_allocated == len(letters(scroll))
