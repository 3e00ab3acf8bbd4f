"""Photos of paper cards: uploaded and queued per team, private to the team and staff, typed
beside the photo into one order credited to the team, with double entry, and deleted a set
time after their names are saved."""

import datetime
import io
import json
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import Profile
from allocation.models import Order
from allocation.services import Consent
from registrations.card_services import (
    CARD_MAX_ROWS,
    CARD_PHOTO_MAX_SIDE,
    card_entry_settle,
    card_entry_submit,
    card_photos_upload,
)
from registrations.models import CardPhoto, CardState
from registrations.tasks import delete_expired_card_photos
from teams.services import team_create, team_members_set

from .conftest import make_user

EXIF_GPS_IFD = 0x8825
CARD_ROW = {"hebrew_name": "מנחם מענדל", "gender": "m", "parent_hebrew_name": "חיה מושקא", "city": "Brooklyn"}
SECOND_ROW = {"hebrew_name": "שרה", "gender": "f", "parent_hebrew_name": "רבקה", "country": "IL"}


def make_shliach(username):
    user = make_user(username, permissions=["accounts.register_names"])
    user.groups.add(Group.objects.get_or_create(name="shliach")[0])
    return user


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def phone_photo(size=(3000, 2200), colour=(230, 225, 210)) -> bytes:
    """A card as a phone photographs it: large, with the camera's maker and where it was taken."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(EXIF_GPS_IFD).update({1: "N", 2: (31.0, 46.0, 12.5), 3: "E", 4: (35.0, 13.0, 1.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def noisy_png(side=400) -> bytes:
    image = Image.effect_noise((side, side), 100).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def upload(name="card.jpg", content=None, content_type="image/jpeg"):
    return SimpleUploadedFile(name, phone_photo((900, 640)) if content is None else content, content_type=content_type)


@pytest.fixture
def people(db):
    return {
        "owner": make_shliach("card-owner"),
        "member": make_shliach("card-member"),
        "second_member": make_shliach("card-member-two"),
        "other_shliach": make_shliach("card-other"),
        "staff": make_user("card-staff", is_staff=True),
    }


def hanhala_of(campaign):
    user = make_user("card-hanhala", permissions=["accounts.view_reports"])
    Profile.objects.get_or_create(user=user)[0].campaigns.add(campaign)
    return user


def make_team(campaign, people, *, double_entry=False):
    team = team_create(
        campaign=campaign, owner=people["owner"], name="Cards Team", goal_letters=50, double_entry=double_entry
    )
    team_members_set(team=team, by=people["owner"], members=[people["member"], people["second_member"]])
    return team


def queued_card(team, by):
    [card] = card_photos_upload(team=team, user=by, files=[upload()])
    return card


def type_card(client, card, rows, consent=True):
    data = {"rows": json.dumps(rows)}
    if consent:
        data["consent"] = "on"
    return client.post(reverse("registrations:card-type", args=[card.pk]), data)


def queue_url(team):
    return reverse("registrations:card-photos", args=[team.slug])


# --- Upload ------------------------------------------------------------------------------------


def test_several_photos_are_queued_cleaned_resized_and_without_exif(campaigns, people):
    team = make_team(campaigns["idf"], people)
    client = signed_in(people["member"])
    response = client.post(
        queue_url(team),
        {
            "photos": [upload("one.jpg", phone_photo()), upload("two.png", noisy_png(), "image/png")],
            "camera": upload("cam.jpg"),
        },
    )
    assert response.status_code == 302, response.content
    cards = list(CardPhoto.objects.filter(team=team).order_by("id"))
    assert len(cards) == 3
    for card in cards:
        assert card.state == CardState.QUEUED and card.uploaded_by == people["member"]
        assert card.photo.name.startswith(f"cards/{team.slug}/") and card.photo.name.endswith(".jpg")
        with card.photo.open("rb") as handle:
            data = handle.read()
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and max(image.size) <= CARD_PHOTO_MAX_SIDE
        assert not image.getexif() and b"PhoneMaker" not in data
    assert max(Image.open(cards[0].photo.open("rb")).size) == CARD_PHOTO_MAX_SIDE  # 3000 wide, made 2000
    assert len({card.photo.name for card in cards}) == 3  # each its own random name
    page = client.get(queue_url(team)).content.decode()
    assert 'capture="environment"' in page and 'multiple accept="image/*"' in page
    assert page.count('class="card-row"') == 3


def test_a_file_that_is_not_an_image_refuses_the_whole_upload(campaigns, people):
    team = make_team(campaigns["idf"], people)
    response = signed_in(people["owner"]).post(
        queue_url(team), {"photos": [upload("good.jpg"), upload("notes.jpg", b"%PDF-1.4 not a photo")]}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "notes.jpg" in page and "not an image" in page and "Nothing was uploaded" in page
    assert not CardPhoto.objects.exists()


def test_a_photo_too_large_is_refused_naming_the_limit(campaigns, people, settings):
    settings.CARD_PHOTO_MAX_BYTES = 50_000
    team = make_team(campaigns["idf"], people)
    big = noisy_png(400)
    assert len(big) > 50_000
    response = signed_in(people["owner"]).post(
        queue_url(team), {"photos": [upload("small.jpg"), upload("big.png", big, "image/png")]}
    )
    assert response.status_code == 400
    assert "big.png" in response.content.decode() and "0.05 MB" in response.content.decode()
    assert not CardPhoto.objects.exists()


def test_more_photos_than_the_cap_are_refused_naming_it(campaigns, people, settings):
    settings.CARD_PHOTOS_PER_UPLOAD = 2
    team = make_team(campaigns["idf"], people)
    response = signed_in(people["owner"]).post(queue_url(team), {"photos": [upload(), upload()], "camera": upload()})
    assert response.status_code == 400
    assert "at most 2 photos at once" in response.content.decode()
    assert not CardPhoto.objects.exists()
    # At the cap, they go.
    assert signed_in(people["owner"]).post(queue_url(team), {"photos": [upload(), upload()]}).status_code == 302
    assert CardPhoto.objects.count() == 2


def test_an_upload_with_no_file_says_so(campaigns, people):
    team = make_team(campaigns["idf"], people)
    response = signed_in(people["owner"]).post(queue_url(team), {})
    assert response.status_code == 400 and "at least one photo" in response.content.decode()


# --- Who sees the photos -------------------------------------------------------------------------


def test_the_team_and_staff_see_a_photo_and_nobody_else_finds_it(campaigns, people):
    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["member"])
    photo_url = reverse("registrations:card-photo", args=[card.pk])
    assert photo_url == f"/shliach/cards/{card.pk}/photo"
    for role in ("owner", "member", "staff"):
        response = signed_in(people[role]).get(photo_url)
        assert response.status_code == 200, role
        assert response["Content-Type"] == "image/jpeg"
        assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
        assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    strangers = {"other_shliach": signed_in(people["other_shliach"]), "hanhala": signed_in(hanhala_of(team.campaign))}
    strangers["anon"] = Client()
    for role, client in strangers.items():
        assert client.get(photo_url).status_code == 404, role
    # Signed in but not of the team: the queue, the card and its settling do not exist for them.
    for role in ("other_shliach", "hanhala"):
        client = strangers[role]
        assert client.get(queue_url(team)).status_code == 404, role
        assert client.post(queue_url(team), {"photos": [upload()]}).status_code == 404, role
        assert client.get(reverse("registrations:card-type", args=[card.pk])).status_code == 404, role
        assert type_card(client, card, [CARD_ROW]).status_code == 404, role
        assert client.post(reverse("registrations:card-delete", args=[card.pk])).status_code == 404, role
    for url in (queue_url(team), reverse("registrations:card-type", args=[card.pk])):
        assert strangers["anon"].get(url)["Location"].startswith("/accounts/login/")
    # A card that does not exist is the same 404.
    assert signed_in(people["owner"]).get(reverse("registrations:card-photo", args=[card.pk + 1000])).status_code == 404
    assert CardPhoto.objects.get().state == CardState.QUEUED


def test_another_teams_shliach_cannot_upload_or_type_through_the_services(campaigns, people):
    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["owner"])
    with pytest.raises(PermissionDenied):
        card_photos_upload(team=team, user=people["other_shliach"], files=[upload()])
    with pytest.raises(PermissionDenied):
        card_entry_submit(card_id=card.pk, user=people["other_shliach"], rows=[CARD_ROW])


# --- Typing a card -------------------------------------------------------------------------------


def test_a_card_typed_beside_its_photo_becomes_one_order_credited_to_the_team(campaigns, people):
    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["owner"])
    client = signed_in(people["member"])
    page = client.get(reverse("registrations:card-type", args=[card.pk])).content.decode()
    assert f'src="/shliach/cards/{card.pk}/photo"' in page and 'id="name-grid"' in page
    assert "data-draft-url" not in page  # the card's rows go with its form

    response = type_card(client, card, [CARD_ROW, {"gender": "m"}, SECOND_ROW])  # an empty row is skipped
    assert response.status_code == 302
    card.refresh_from_db()
    order = Order.objects.get()
    assert card.state == CardState.SAVED and card.order == order and card.saved_at
    assert card.first_entry == [CARD_ROW, SECOND_ROW] and card.first_entry_by == people["member"]
    assert order.team == team and order.campaign == team.campaign and order.created_by == people["member"]
    assert order.channel == "shliach" and order.consent_at is not None
    assert [name.hebrew_name for name in order.names.order_by("id")] == ["מנחם מענדל", "שרה"]
    # Saved once: typed again, it is refused and no second order is made.
    with pytest.raises(ValidationError, match="saved already"):
        card_entry_submit(card_id=card.pk, user=people["owner"], rows=[CARD_ROW])
    assert client.get(reverse("registrations:card-type", args=[card.pk])).status_code == 302
    assert Order.objects.count() == 1
    queue = client.get(queue_url(team)).content.decode()
    assert f"#{order.pk}" in queue


def test_a_card_with_a_problem_is_shown_again_with_its_rows_and_nothing_is_saved(campaigns, people):
    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["owner"])
    client = signed_in(people["owner"])
    response = type_card(client, card, [{**CARD_ROW, "hebrew_name": "Menachem"}])
    assert response.status_code == 400
    page = response.content.decode()
    assert "Row 1, Hebrew name" in page and "Menachem" in page  # the rows come back to fix
    response = type_card(client, card, [CARD_ROW], consent=False)
    assert response.status_code == 400 and "privacy notice" in response.content.decode()
    response = type_card(client, card, [CARD_ROW] * (CARD_MAX_ROWS + 1))
    assert response.status_code == 400 and f"at most {CARD_MAX_ROWS} names" in response.content.decode()
    card.refresh_from_db()
    assert card.state == CardState.QUEUED and not Order.objects.exists()


def test_double_entry_the_first_typist_cannot_type_it_again(campaigns, people):
    team = make_team(campaigns["idf"], people, double_entry=True)
    card = queued_card(team, people["owner"])
    first = signed_in(people["member"])
    assert type_card(first, card, [CARD_ROW]).status_code == 302
    card.refresh_from_db()
    assert card.state == CardState.TYPED and card.first_entry == [CARD_ROW] and not Order.objects.exists()
    # The same entry again (a double click) is kept once; anything else from them is refused.
    card_entry_submit(card_id=card.pk, user=people["member"], rows=[CARD_ROW])
    with pytest.raises(ValidationError, match="a second person"):
        card_entry_submit(card_id=card.pk, user=people["member"], rows=[{**CARD_ROW, "city": "Crown Heights"}])
    assert first.get(reverse("registrations:card-type", args=[card.pk])).status_code == 302
    card.refresh_from_db()
    assert card.state == CardState.TYPED and card.second_entry is None and not Order.objects.exists()
    # The database keeps it so too.
    with pytest.raises(IntegrityError), transaction.atomic():
        CardPhoto.objects.filter(pk=card.pk).update(
            state=CardState.MISMATCH,
            second_entry=[CARD_ROW],
            second_entry_by=people["member"],
            second_entry_at=timezone.now(),
        )


def test_double_entry_equal_entries_after_normalisation_save_one_order(campaigns, people):
    team = make_team(campaigns["idf"], people, double_entry=True)
    card = queued_card(team, people["owner"])
    assert type_card(signed_in(people["member"]), card, [CARD_ROW, SECOND_ROW]).status_code == 302
    second = signed_in(people["second_member"])
    page = second.get(reverse("registrations:card-type", args=[card.pk])).content.decode()
    assert "חיה מושקא" not in page and "Brooklyn" not in page  # the first entry is not shown
    # The same card as name_clean reads it: spaces around, a lower-case country.
    same = [{**CARD_ROW, "hebrew_name": " מנחם  מענדל ", "city": "Brooklyn "}, {**SECOND_ROW, "country": "il"}]
    assert type_card(second, card, same).status_code == 302
    card.refresh_from_db()
    order = Order.objects.get()
    assert card.state == CardState.SAVED and card.order == order and card.second_entry_by == people["second_member"]
    assert order.team == team and order.created_by == people["second_member"] and order.names.count() == 2


def test_double_entry_a_mismatch_is_shown_field_by_field_and_settled_once(campaigns, people):
    team = make_team(campaigns["idf"], people, double_entry=True)
    card = queued_card(team, people["owner"])
    assert type_card(signed_in(people["member"]), card, [CARD_ROW]).status_code == 302
    second = signed_in(people["second_member"])
    typed_again = [{**CARD_ROW, "parent_hebrew_name": "חנה", "city": "Brooklyn"}, SECOND_ROW]
    response = type_card(second, card, typed_again)
    settle_url = reverse("registrations:card-settle", args=[card.pk])
    assert response.status_code == 302 and response["Location"] == settle_url
    card.refresh_from_db()
    assert card.state == CardState.MISMATCH and not Order.objects.exists()

    page = second.get(settle_url).content.decode()
    assert "חיה מושקא" in page and "חנה" in page and "Row 1: Parent" in page and "Row 2: the whole name" in page
    assert 'name="choice-1:parent_hebrew_name"' in page and 'name="choice-2:row"' in page
    assert 'name="choice-1:hebrew_name"' not in page  # equal fields are not asked
    # The first typist (not the owner) does not settle; the owner could.
    assert signed_in(people["member"]).get(settle_url).status_code == 404
    assert signed_in(people["owner"]).get(settle_url).status_code == 200

    # A difference left unchosen: nothing saved.
    response = second.post(settle_url, {"choice-1:parent_hebrew_name": "first", "consent": "on"})
    assert response.status_code == 400 and "Row 2: the whole name" in response.content.decode()
    assert not Order.objects.exists()

    response = second.post(
        settle_url, {"choice-1:parent_hebrew_name": "first", "choice-2:row": "second", "consent": "on"}
    )
    assert response.status_code == 302
    card.refresh_from_db()
    order = Order.objects.get()
    assert card.state == CardState.SAVED and card.order == order and order.team == team
    names = list(order.names.order_by("id").values_list("hebrew_name", "parent_hebrew_name"))
    assert names == [("מנחם מענדל", "חיה מושקא"), ("שרה", "רבקה")]
    # Settled once: again, it is refused.
    with pytest.raises(ValidationError, match="saved already"):
        card_entry_settle(
            card_id=card.pk, user=people["owner"], choices={"1:parent_hebrew_name": "second", "2:row": "first"}
        )
    assert Order.objects.count() == 1


def test_a_card_is_one_order_and_an_order_one_card_in_the_database(campaigns, people):
    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["owner"])
    other = queued_card(team, people["owner"])
    card_entry_submit(card_id=card.pk, user=people["owner"], rows=[CARD_ROW], consent=Consent.given_now())
    card.refresh_from_db()
    with pytest.raises(IntegrityError), transaction.atomic():
        CardPhoto.objects.filter(pk=other.pk).update(
            state=CardState.SAVED,
            order=card.order,
            saved_at=timezone.now(),
            first_entry=[CARD_ROW],
            first_entry_by=people["owner"],
            first_entry_at=timezone.now(),
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # saved without an order
        CardPhoto.objects.filter(pk=other.pk).update(
            state=CardState.SAVED, saved_at=timezone.now(), first_entry=[CARD_ROW], first_entry_by=people["owner"],
            first_entry_at=timezone.now(),
        )  # fmt: skip


def test_the_uploader_deletes_a_card_not_yet_saved_with_its_photo(
    campaigns, people, django_capture_on_commit_callbacks
):
    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["member"])
    storage, path = card.photo.storage, card.photo.name
    assert (
        signed_in(people["second_member"]).post(reverse("registrations:card-delete", args=[card.pk])).status_code == 404
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(people["member"]).post(reverse("registrations:card-delete", args=[card.pk]))
    assert response.status_code == 302
    assert not CardPhoto.objects.exists() and not storage.exists(path)


def test_hostile_rows_choices_and_file_names_are_refused_or_shown_escaped(campaigns, people):
    from .test_hostile_inputs import CORPUS, SCRIPT, assert_safe

    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["owner"])
    client = signed_in(people["owner"])
    type_url = reverse("registrations:card-type", args=[card.pk])
    for value in CORPUS:
        row = {"hebrew_name": value, "parent_hebrew_name": value, "gender": value, "english_name": value}
        response = type_card(client, card, [row])
        assert response.status_code == 400, value[:40]
        assert_safe(response)
    bodies = ["[1, 2]", '{"rows": 1}', "[" * 5000, '[{"hebrew_name": "\\ud800"}]', '[{"english_name": "a\\u0000b"}]',
              "not json", '[{"nope": "x"}]', "[" + "{}," * (CARD_MAX_ROWS + 1) + '{"hebrew_name": "משה"}]']  # fmt: skip
    for body in bodies:
        response = client.post(type_url, {"rows": body, "consent": "on"})
        assert response.status_code == 400, body[:20]
        assert_safe(response)
    response = client.post(queue_url(team), {"photos": [upload(f"{SCRIPT}.jpg", b"GIF89a not really")]})
    assert response.status_code == 400
    assert_safe(response)
    card.refresh_from_db()
    assert card.state == CardState.QUEUED and not Order.objects.exists() and CardPhoto.objects.count() == 1


# --- Retention ------------------------------------------------------------------------------------


def test_photos_are_deleted_after_the_kept_days_and_the_task_is_safe_twice(
    campaigns, people, settings, django_capture_on_commit_callbacks
):
    settings.CARD_PHOTOS_KEPT_DAYS = 30
    team = make_team(campaigns["idf"], people)
    old, recent, waiting = (queued_card(team, people["owner"]) for _ in range(3))
    for card in (old, recent):
        card_entry_submit(card_id=card.pk, user=people["owner"], rows=[CARD_ROW], consent=Consent.given_now())
    CardPhoto.objects.filter(pk=old.pk).update(saved_at=timezone.now() - datetime.timedelta(days=31))
    CardPhoto.objects.filter(pk=waiting.pk).update(uploaded_at=timezone.now() - datetime.timedelta(days=90))
    old.refresh_from_db()
    path, storage = old.photo.name, old.photo.storage
    assert storage.exists(path)

    with django_capture_on_commit_callbacks(execute=True):
        delete_expired_card_photos()
    old.refresh_from_db()
    assert not old.photo and not storage.exists(path)
    assert old.state == CardState.SAVED and old.order_id and old.first_entry == [CARD_ROW]  # the record stays
    for card in (recent, waiting):
        card.refresh_from_db()
        assert card.photo and card.photo.storage.exists(card.photo.name)
    assert signed_in(people["owner"]).get(reverse("registrations:card-photo", args=[old.pk])).status_code == 404
    assert "deleted" in signed_in(people["owner"]).get(queue_url(team)).content.decode()

    # Again: nothing more to do, nothing breaks.
    with django_capture_on_commit_callbacks(execute=True):
        delete_expired_card_photos()
    recent.refresh_from_db()
    assert recent.photo and CardPhoto.objects.filter(photo="").count() == 1


def test_a_card_of_an_erased_order_loses_its_entries_and_photo(campaigns, people, django_capture_on_commit_callbacks):
    from core.privacy import Subject
    from registrations.shredders import CardPhotosShredder

    team = make_team(campaigns["idf"], people)
    card = queued_card(team, people["owner"])
    card_entry_submit(card_id=card.pk, user=people["owner"], rows=[CARD_ROW], consent=Consent.given_now())
    card.refresh_from_db()
    path = card.photo.name
    assert CardPhotosShredder().export(subject=Subject(user_ids=(people["owner"].pk,)))[0]["order_id"] == card.order_id
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert CardPhotosShredder().erase(subject=Subject(order_ids=(card.order_id,)), now=timezone.now()) == 1
    card.refresh_from_db()
    assert card.first_entry == [] and not card.photo and not card.photo.storage.exists(path)


# --- Two saves at once (PostgreSQL, separate connections) ---------------------------------------


def run_at_the_same_moment(jobs):
    barrier = threading.Barrier(len(jobs))
    outcomes = []

    def worker(job):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=60)
            outcomes.append(job())
        except ValidationError as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_card_saved_twice_at_once_makes_one_order(campaigns):
    people = {
        "owner": make_shliach("race-owner"),
        "member": make_shliach("race-member"),
        "second_member": make_shliach("race-member-two"),
    }
    single = make_team(campaigns["idf"], people)
    card = queued_card(single, people["owner"])
    double = team_create(
        campaign=campaigns["sefardi"], owner=people["owner"], name="Race Double", goal_letters=5, double_entry=True
    )
    team_members_set(team=double, by=people["owner"], members=[people["member"], people["second_member"]])
    twice = queued_card(double, people["owner"])
    card_entry_submit(card_id=twice.pk, user=people["owner"], rows=[CARD_ROW])

    def save(card_id, user):
        return lambda: card_entry_submit(card_id=card_id, user=user, rows=[CARD_ROW], consent=Consent.given_now())

    outcomes = run_at_the_same_moment(
        [save(card.pk, people["owner"]), save(card.pk, people["member"]), save(card.pk, people["second_member"])]
    )
    assert sum(isinstance(outcome, CardPhoto) for outcome in outcomes) == 1
    assert all("saved already" in str(outcome) for outcome in outcomes if isinstance(outcome, ValidationError))
    # Two second entries at once: the card is saved by one of them, once.
    outcomes = run_at_the_same_moment([save(twice.pk, people["member"]), save(twice.pk, people["second_member"])])
    assert sum(isinstance(outcome, CardPhoto) for outcome in outcomes) == 1
    assert Order.objects.filter(team=single).count() == 1 and Order.objects.filter(team=double).count() == 1
    card.refresh_from_db()
    twice.refresh_from_db()
    assert card.state == twice.state == CardState.SAVED
    assert {card.order.team_id, twice.order.team_id} == {single.pk, double.pk}
