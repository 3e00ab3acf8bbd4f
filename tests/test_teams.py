"""Teams as fundraisers (issue 20): opening and changing a team on its forms and through the API,
its photo (re-encoded: no EXIF, resized; anything else refused), its public page in Hebrew, the
orders it is credited with through each door, its letters (paid orders only), the leaderboards on
the campaign's page and in its widget, and the owner told once when it reaches its goal."""

import io
import re
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from accounts.services import profile_for
from allocation.models import Order
from allocation.selectors import team_letters
from allocation.services import order_fulfil
from fundraising.selectors import LEADERBOARD_PAGE_SIZE
from fundraising.services import team_goal_check
from teams.models import Team
from teams.services import team_create, team_update

from .conftest import make_user, token_client
from .factories import make_order, name_data
from .test_accounts import with_role
from .test_api import order_payload
from .test_buy_pages import buy_form
from .test_hostile_inputs import CORPUS, assert_safe

pytestmark = pytest.mark.django_db

EXIF_GPS_IFD = 0x8825


def make_shliach(username):
    return with_role(make_user(username), "shliach")


@pytest.fixture
def shliach(db):
    return make_shliach("levi")


def signed_in(user, language="en"):
    client = Client()
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    return client


def open_team(owner, campaign, name="Chabad of the Valley", goal_letters=10, **fields):
    return team_create(campaign=campaign, owner=owner, name=name, goal_letters=goal_letters, **fields)


def paid_order(campaign, *, team, count=1, listed=False, names=None):
    order = make_order(campaign, names=names or [name_data(i, listed=listed) for i in range(count)], team=team)
    order_fulfil(order_id=order.pk)
    return order


def phone_photo(size=(3000, 2000)) -> bytes:
    """A JPEG as a phone takes it: large, with the camera's maker and where it was taken."""
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(EXIF_GPS_IFD)
    gps.update({1: "N", 2: (31.0, 46.0, 12.5), 3: "E", 4: (35.0, 13.0, 1.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def team_form(**overrides):
    data = {
        "campaign": "",
        "kind": "institution",
        "name": "Beth Chabad of the Valley",
        "name_he": "בית חב״ד העמק",
        "name_en": "Beth Chabad of the Valley",
        "name_ru": "",
        "message": "",
        "goal_letters": "100",
        "leaderboard": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- The owner's forms, and the photo -------------------------------------------------------


def test_a_shliach_opens_a_team_and_its_phone_photo_is_kept_without_exif_and_resized(campaigns, shliach):
    client = signed_in(shliach)
    page = client.get("/teams/new/?campaign=idf").content.decode()
    assert 'accept="image/*"' in page and 'name="goal_letters"' in page
    assert f'<option value="{campaigns["idf"].pk}" selected>' in page

    photo = SimpleUploadedFile("IMG_0001.jpg", phone_photo(), content_type="image/jpeg")
    response = client.post("/teams/new/", team_form(campaign=campaigns["idf"].pk, photo=photo))
    team = Team.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/teams/{team.slug}/"
    assert (team.owner, team.campaign, team.kind, team.goal_letters) == (shliach, campaigns["idf"], "institution", 100)
    assert team.slug == "beth-chabad-of-the-valley" and team.leaderboard and team.name_he == "בית חב״ד העמק"

    with team.photo.open("rb") as stored:
        image = Image.open(io.BytesIO(stored.read()))
    assert image.format == "JPEG" and max(image.size) == 1200 and image.size == (1200, 800)
    assert not dict(image.getexif()) and "exif" not in image.info

    # The team's page shows it, served by its own name with long caching; no other name is served.
    page = client.get(f"/teams/{team.slug}/").content.decode()
    photo_url = reverse("team-photo", kwargs={"slug": team.slug, "filename": team.photo.name.split("/")[-1]})
    assert f'src="{photo_url}"' in page
    served = Client().get(photo_url)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert "max-age=31536000" in served["Cache-Control"] and b"".join(served.streaming_content)[:2] == b"\xff\xd8"
    assert Client().get(f"/teams/{team.slug}/photo/other.jpg").status_code == 404
    assert Client().get(f"/teams/{team.slug}/photo/..%2Fphotos%2F{photo_url.rsplit('/', 1)[1]}").status_code == 404


def test_a_text_file_named_jpg_is_refused_and_nothing_is_saved(campaigns, shliach):
    photo = SimpleUploadedFile("photo.jpg", b"this is not an image, only its name says so", content_type="image/jpeg")
    response = signed_in(shliach).post("/teams/new/", team_form(campaign=campaigns["idf"].pk, photo=photo))
    assert response.status_code == 200
    assert "This file is not an image we can read." in response.content.decode()
    assert not Team.objects.exists()


def test_a_photo_too_large_is_refused_naming_the_limit(campaigns, shliach, settings):
    settings.TEAM_PHOTO_MAX_BYTES = 50_000
    photo = SimpleUploadedFile("big.jpg", phone_photo(), content_type="image/jpeg")
    assert photo.size > 50_000
    response = signed_in(shliach).post("/teams/new/", team_form(campaign=campaigns["idf"].pk, photo=photo))
    assert response.status_code == 200 and "The photo is larger than 0.05 MB" in response.content.decode()
    assert not Team.objects.exists()


def test_only_a_signed_in_shliach_opens_a_team(campaigns):
    response = Client().get("/teams/new/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    buyer = make_user("buyer")
    assert signed_in(buyer).get("/teams/new/").status_code == 403
    assert signed_in(buyer).post("/teams/new/", team_form(campaign=campaigns["idf"].pk)).status_code == 403
    assert not Team.objects.exists()


def test_a_goal_over_the_limit_and_a_closed_campaign_are_refused(campaigns, shliach, settings):
    settings.TEAM_GOAL_MAX_LETTERS = 500
    client = signed_in(shliach)
    response = client.post("/teams/new/", team_form(campaign=campaigns["idf"].pk, goal_letters="501"))
    assert response.status_code == 200 and "500" in response.content.decode()
    closed = campaigns["children"]
    closed.active = False
    closed.save(update_fields=["active"])
    response = client.post("/teams/new/", team_form(campaign=closed.pk))
    assert response.status_code == 200
    assert not Team.objects.exists()


def test_the_owner_changes_the_team_its_members_and_raises_a_reached_goal(
    campaigns, shliach, django_capture_on_commit_callbacks
):
    team = open_team(shliach, campaigns["idf"], goal_letters=1, photo=SimpleUploadedFile("a.jpg", phone_photo()))
    old_photo = team.photo.name
    colleague = make_shliach("mendel")
    paid_order(campaigns["idf"], team=team)
    team_goal_check(order_id=Order.objects.get().pk)
    team.refresh_from_db()
    assert team.goal_reached_at is not None

    client = signed_in(shliach)
    page = client.get(f"/teams/{team.slug}/").content.decode()
    assert 'id="goal-reached"' in page and 'id="goal-raise"' in page
    form = client.get(f"/teams/{team.slug}/edit/").content.decode()
    assert 'name="photo_remove"' in form and 'name="members"' in form and 'name="campaign"' not in form

    data = team_form(goal_letters="20", members=f"{colleague.email}\nno-such-person", photo_remove="on")
    response = client.post(f"/teams/{team.slug}/edit/", data)
    assert response.status_code == 200 and "no-such-person" in response.content.decode()
    team.refresh_from_db()
    assert team.goal_letters == 1 and team.photo.name == old_photo  # nothing changed

    with django_capture_on_commit_callbacks(execute=True):  # the old file is deleted once saved
        response = client.post(
            f"/teams/{team.slug}/edit/",
            team_form(goal_letters="20", members=colleague.email.upper(), photo_remove="on"),
        )
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.goal_letters == 20 and team.goal_reached_at is None  # told again at the new goal
    assert list(team.members.all()) == [colleague] and not team.photo
    assert not Team.photo.field.storage.exists(old_photo)

    # A member is no buyer of the form: only the owner and staff change the team.
    page = signed_in(colleague).get(f"/teams/{team.slug}/").content.decode()
    assert 'id="team-edit-link"' not in page and 'id="goal-raise"' not in page
    assert signed_in(colleague).get(f"/teams/{team.slug}/edit/").status_code == 404
    assert signed_in(make_user("staff", is_staff=True)).get(f"/teams/{team.slug}/edit/").status_code == 200
    response = Client().get(f"/teams/{team.slug}/edit/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_member_who_is_not_a_shliach_is_refused(campaigns, shliach):
    team = open_team(shliach, campaigns["idf"])
    buyer = make_user("buyer")
    response = signed_in(shliach).post(f"/teams/{team.slug}/edit/", team_form(members="buyer"))
    assert response.status_code == 200 and "Not a shliach: buyer" in response.content.decode()
    assert not team.members.exists() and buyer.teams_joined.count() == 0


# --- The public page ------------------------------------------------------------------------


def test_the_team_page_in_hebrew_shows_progress_the_listed_names_newest_first_and_the_buy_button(campaigns, shliach):
    idf = campaigns["idf"]
    team = open_team(
        shliach,
        idf,
        name="Chabad of the Valley",
        name_he="חב״ד העמק",
        goal_letters=4,
        message="Join us!\n<script>alert(1)</script>",
    )
    paid_order(idf, team=team, names=[name_data(0, hebrew_name="אברהם", listed=True)])
    paid_order(idf, team=team, names=[name_data(1, hebrew_name="שרה", listed=True, dedication_kind="refuah_shleimah")])
    paid_order(idf, team=team, names=[name_data(2, hebrew_name="יעקב", listed=False)])
    make_order(idf, names=[name_data(3, hebrew_name="רחל", listed=True)], team=team)  # not paid
    make_order(idf, names=[name_data(4, hebrew_name="לאה", listed=True)])  # another door, no team
    order_fulfil(order_id=Order.objects.get(names__hebrew_name="לאה").pk)

    response = Client(headers={"cookie": f"{django_settings.LANGUAGE_COOKIE_NAME}=he"}).get(f"/teams/{team.slug}/")
    page = response.content.decode()
    assert response.status_code == 200 and '<html lang="he" dir="rtl">' in page
    assert '<h1 class="h3 mb-1" id="team-name"><bdi>חב״ד העמק</bdi></h1>' in page
    assert "Chabad of the Valley" in page  # its own name beside the Hebrew one
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "Join us!<br>" in page
    assert 'role="progressbar"' in page and 'aria-valuenow="3"' in page and 'aria-valuemax="4"' in page
    assert 'data-width="75.00"' in page and 'id="goal-reached"' not in page
    assert f'href="/buy/idf/?team={team.slug}"' in page
    recent = re.findall(r'class="list-group-item team-recent-name"><span lang="he" dir="rtl"><bdi>([^<]+)</bdi>', page)
    assert recent == ["שרה בת מרים", "אברהם בן מרים"]  # listed and paid only, newest first
    assert "יעקב" not in page and "רחל" not in page and "לאה" not in page
    assert 'id="team-edit-link"' not in page  # the public sees no owner's links
    assert 'property="og:title"' in page and "חב״ד העמק" in re.search(r'og:title" content="([^"]+)"', page)[1]


def test_the_team_page_shows_at_most_ten_recent_names_and_goal_reached(campaigns, shliach):
    team = open_team(shliach, campaigns["idf"], goal_letters=12)
    paid_order(campaigns["idf"], team=team, count=12, listed=True)
    page = signed_in(shliach).get(f"/teams/{team.slug}/").content.decode()
    assert page.count('class="list-group-item team-recent-name"') == 10
    assert 'id="goal-reached"' in page and 'id="goal-raise"' in page and 'aria-valuenow="12"' in page
    assert Client().get("/teams/no-such-team/").status_code == 404


def test_the_buy_button_credits_the_team(client, campaigns, shliach, settings):
    settings.DEMO_PAYMENTS, settings.STRIPE_SECRET_KEY = True, ""
    team = open_team(shliach, campaigns["idf"])
    page = client.get(f"/buy/idf/?team={team.slug}").content.decode()
    assert f'name="team" value="{team.slug}"' in page
    response = client.post("/buy/idf/", buy_form(team=team.slug))
    order = Order.objects.get()
    assert response.status_code == 302 and order.team == team and order.referred_by is None
    client.get(response["Location"])  # the payment page starts the (demo) card payment
    assert team_letters(team=team) == 0  # not paid yet
    client.post(f"/orders/{order.token}/pay/demo/", {"outcome": "succeed"})
    assert team_letters(team=team) == 1


def test_a_shliachs_referral_link_credits_their_team(client, campaigns, shliach):
    team = open_team(shliach, campaigns["idf"])
    client.get(f"/r/{profile_for(user=shliach).referral_code}/?next=/buy/idf/")
    assert client.post("/buy/idf/", buy_form()).status_code == 302
    order = Order.objects.get()
    assert order.referred_by == shliach and order.team == team


def test_the_orders_api_credits_the_team_it_names(campaigns, shliach, trusted_shliach):
    team = open_team(shliach, campaigns["idf"])
    response = token_client(trusted_shliach).post(
        "/api/v1/orders/", order_payload(names=[name_data(0), name_data(1)], team=team.slug), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["team"] == team.slug and response.json()["status"] == "paid"
    assert team_letters(team=team) == 2


def test_a_teams_letters_count_only_its_paid_orders(campaigns, shliach):
    team = open_team(shliach, campaigns["idf"], leaderboard=True)
    paid_order(campaigns["idf"], team=team, count=3)
    make_order(campaigns["idf"], 5, team=team)  # pending
    body = APIClient().get("/api/v1/campaigns/idf/teams/").json()
    assert body["results"][0]["letters"] == 3 and team_letters(team=team) == 3


# --- The API --------------------------------------------------------------------------------


def test_the_public_list_ranks_the_leaderboard_teams_by_letters_then_name(campaigns, shliach, settings):
    settings.SITE_URL = "https://unitysefer.example"
    idf = campaigns["idf"]
    other = make_shliach("mendel")
    zayin = open_team(shliach, idf, name="Zayin", goal_letters=5, leaderboard=True)
    aleph = open_team(other, idf, name="Aleph", goal_letters=5, leaderboard=True)
    bet = open_team(other, idf, name="Bet", goal_letters=5, leaderboard=True)
    hidden = open_team(shliach, idf, name="Hidden", goal_letters=5, leaderboard=False)
    open_team(shliach, campaigns["children"], name="Elsewhere", goal_letters=5, leaderboard=True)
    paid_order(idf, team=bet, count=2)
    paid_order(idf, team=hidden, count=4)

    response = APIClient().get("/api/v1/campaigns/idf/teams/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["next"] is None
    assert [team["slug"] for team in body["results"]] == [bet.slug, aleph.slug, zayin.slug]
    assert body["results"][0] == {
        "slug": bet.slug,
        "name": "Bet",
        "goal_letters": 5,
        "letters": 2,
        "url": f"https://unitysefer.example/teams/{bet.slug}/",
    }
    assert APIClient().get("/api/v1/campaigns/no-such-campaign/teams/").status_code == 404


def test_the_public_list_comes_a_page_at_a_time(campaigns, shliach):
    Team.objects.bulk_create(
        Team(
            campaign=campaigns["idf"],
            owner=shliach,
            slug=f"team-{i:03}",
            name=f"Team {i:03}",
            goal_letters=5,
            leaderboard=True,
        )
        for i in range(LEADERBOARD_PAGE_SIZE + 3)
    )
    first = APIClient().get("/api/v1/campaigns/idf/teams/").json()
    assert first["count"] == LEADERBOARD_PAGE_SIZE + 3 and len(first["results"]) == LEADERBOARD_PAGE_SIZE
    second = APIClient().get(first["next"]).json()
    assert [team["slug"] for team in second["results"]] == ["team-050", "team-051", "team-052"]


def test_a_shliach_opens_a_team_through_the_api(campaigns, shliach, settings):
    settings.SITE_URL = "https://unitysefer.example"
    payload = {
        "campaign": "idf",
        "name": "Beth Chabad of the Valley",
        "name_he": "בית חב״ד העמק",
        "goal_letters": 250,
        "message": "Every letter counts.",
        "leaderboard": True,
    }
    response = token_client(shliach).post("/api/v1/teams/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    team = Team.objects.get()
    assert body["slug"] == team.slug == "beth-chabad-of-the-valley"
    assert body["url"] == f"https://unitysefer.example/teams/{team.slug}/"
    assert (body["campaign"], body["goal_letters"], body["letters"], body["name_he"]) == (
        "idf",
        250,
        0,
        "בית חב״ד העמק",
    )
    assert team.owner == shliach and team.leaderboard and team.message == "Every letter counts."
    assert Client().get(f"/teams/{team.slug}/").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"goal_letters": 1_000_001}, "goal_letters"),
        ({"goal_letters": 0}, "goal_letters"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Beth\u202eChabad"}, "name"),
        ({"campaign": "no-such-campaign"}, "campaign"),
        ({"kind": "club"}, "kind"),
    ],
)
def test_a_refused_team_is_400_naming_the_field_and_nothing_is_saved(campaigns, shliach, change, field):
    payload = {"campaign": "idf", "name": "Beth Chabad", "goal_letters": 10, **change}
    response = token_client(shliach).post("/api/v1/teams/", payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Team.objects.exists()


def test_the_api_keeps_to_teams_per_shliach(campaigns, shliach, settings):
    settings.TEAMS_PER_SHLIACH = 1
    client = token_client(shliach)
    payload = {"campaign": "idf", "name": "Beth Chabad", "goal_letters": 10}
    assert client.post("/api/v1/teams/", payload, format="json").status_code == 201
    response = client.post("/api/v1/teams/", payload, format="json")
    assert response.status_code == 400 and "at most 1 teams" in response.json()["campaign"][0]
    assert Team.objects.count() == 1


def test_opening_a_team_through_the_api_needs_a_shliachs_token(campaigns):
    payload = {"campaign": "idf", "name": "Beth Chabad", "goal_letters": 10}
    assert APIClient().post("/api/v1/teams/", payload, format="json").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.post("/api/v1/teams/", payload, format="json").status_code == 401
    response = token_client(make_user("buyer")).post("/api/v1/teams/", payload, format="json")
    assert response.status_code == 403
    assert not Team.objects.exists()


# --- Leaderboards ---------------------------------------------------------------------------


def _board(page: str) -> list[tuple[str, str]]:
    return re.findall(r'class="leaderboard-row" data-team="([^"]+)" data-letters="(\d+)"', page)


def test_the_leaderboard_on_the_campaign_page_and_widget_moves_after_a_paid_order(
    client, campaigns, shliach, django_capture_on_commit_callbacks, django_assert_num_queries
):
    idf = campaigns["idf"]
    first = open_team(shliach, idf, name="Aleph", name_he="אלף", leaderboard=True)
    second = open_team(make_shliach("mendel"), idf, name="Bet", leaderboard=True)
    hidden = open_team(shliach, idf, name="Hidden", leaderboard=False)
    paid_order(idf, team=first)
    paid_order(idf, team=hidden, count=5)

    page = client.get("/campaigns/idf/").content.decode()
    assert _board(page) == [(first.slug, "1"), (second.slug, "0")]
    widget = client.get("/widget/idf/?lang=he&board=1").content.decode()
    assert _board(widget) == [(first.slug, "1"), (second.slug, "0")]
    assert f'href="{django_settings.SITE_URL}/teams/{first.slug}/" target="_blank"' in widget and "אלף" in widget
    assert "team-leaderboard" not in client.get("/widget/idf/?lang=he").content.decode()
    with django_assert_num_queries(1):  # the progress from the cache, the board in one query
        client.get("/widget/idf/?lang=en&board=1")
    script = client.get("/widget/idf.js?lang=he&board=1").content.decode()
    assert "\\u0026board\\u003D1" in script and "height:34rem" in script

    with django_capture_on_commit_callbacks(execute=True):
        paid_order(idf, team=second, count=2)
    assert _board(client.get("/campaigns/idf/").content.decode()) == [(second.slug, "2"), (first.slug, "1")]
    assert _board(client.get("/widget/idf/?board=1").content.decode()) == [(second.slug, "2"), (first.slug, "1")]
    full = client.get("/campaigns/idf/teams/").content.decode()
    assert re.findall(r'class="leaderboard-row" data-team="([^"]+)"', full) == [second.slug, first.slug]
    assert hidden.slug == "hidden" and "/teams/hidden/" not in full


def test_the_leaderboard_shows_the_top_ten_and_links_the_whole_board(client, campaigns, shliach):
    Team.objects.bulk_create(
        Team(
            campaign=campaigns["idf"],
            owner=shliach,
            slug=f"team-{i:02}",
            name=f"Team {i:02}",
            goal_letters=5,
            leaderboard=True,
        )
        for i in range(12)
    )
    page = client.get("/campaigns/idf/").content.decode()
    assert len(_board(page)) == 10 and 'id="leaderboard-all" ' not in page
    assert 'href="/campaigns/idf/teams/" id="leaderboard-all"' in page
    full = client.get("/campaigns/idf/teams/").content.decode()
    assert full.count('class="leaderboard-row"') == 12


# --- Goal reached ---------------------------------------------------------------------------


def test_the_owner_is_emailed_once_in_their_language_when_the_team_reaches_its_goal(
    campaigns, shliach, mailoutbox, django_capture_on_commit_callbacks
):
    def told():  # the buyers' own confirmations go to the buyers
        return [email for email in mailoutbox if email.to == [shliach.email]]

    profile = profile_for(user=shliach)
    profile.language = "he"
    profile.save(update_fields=["language"])
    team = open_team(shliach, campaigns["idf"], name="Valley", name_he="העמק", goal_letters=3)

    with django_capture_on_commit_callbacks(execute=True):
        paid_order(campaigns["idf"], team=team, count=2)
        make_order(campaigns["idf"], 5, team=team)  # pending: not counted
    assert told() == [] and Team.objects.get().goal_reached_at is None

    with django_capture_on_commit_callbacks(execute=True):
        order = paid_order(campaigns["idf"], team=team)
    [email] = told()
    assert "העמק" in email.subject
    html = email.alternatives[0][0]
    assert 'lang="he" dir="rtl"' in html and f"/teams/{team.slug}/edit/" in email.body
    reached_at = Team.objects.get().goal_reached_at
    assert reached_at is not None

    # Twice is harmless: a second run, or the next paid order, tells nobody again.
    assert team_goal_check(order_id=order.pk) is False
    with django_capture_on_commit_callbacks(execute=True):
        paid_order(campaigns["idf"], team=team)
    assert len(told()) == 1 and Team.objects.get().goal_reached_at == reached_at

    # A raised goal is told again when it is reached.
    team_update(team=Team.objects.get(), by=shliach, goal_letters=5)
    assert Team.objects.get().goal_reached_at is None
    with django_capture_on_commit_callbacks(execute=True):
        paid_order(campaigns["idf"], team=team)
    assert len(told()) == 2 and Team.objects.get().goal_reached_at is not None


def test_an_order_without_a_team_tells_no_one(campaigns, shliach, mailoutbox, django_capture_on_commit_callbacks):
    open_team(shliach, campaigns["idf"], goal_letters=1)
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(campaigns["idf"], 1)
        order_fulfil(order_id=order.pk)
    assert team_goal_check(order_id=order.pk) is False
    assert [email.to for email in mailoutbox] == [[order.buyer_email]] and Team.objects.get().goal_reached_at is None


def test_a_team_called_new_gets_an_address_of_its_own_not_the_form(campaigns, shliach):
    team = open_team(shliach, campaigns["idf"], name="New")
    assert team.slug.startswith("new-") and Client().get(f"/teams/{team.slug}/").status_code == 200


@pytest.mark.parametrize("value", CORPUS)
def test_hostile_values_are_refused_naming_the_field_or_shown_escaped(campaigns, shliach, settings, value):
    settings.TEAMS_PER_SHLIACH = 100
    client = signed_in(shliach)
    quoted = quote(value[:2000], safe="")
    if value.strip():  # no team yet: whatever the address, nothing is found
        for path in (
            f"/teams/{quoted}/",
            f"/teams/{quoted}/edit/",
            f"/teams/x/photo/{quoted}",
            f"/campaigns/{quoted}/teams/",
        ):
            assert client.get(path).status_code == 404, path
        assert APIClient().get(f"/api/v1/campaigns/{quoted}/teams/").status_code == 404
    assert_safe(client.get(f"/campaigns/idf/teams/?page={quoted}"))
    assert APIClient().get(f"/api/v1/campaigns/idf/teams/?page={quoted}").status_code in (200, 404)

    for field in ("name", "name_he", "message", "goal_letters"):
        response = client.post("/teams/new/", team_form(campaign=campaigns["idf"].pk, **{field: value}))
        assert_safe(response)
        if response.status_code == 302:
            assert_safe(client.get(response["Location"]))
    api = token_client(shliach)
    for field in ("name", "name_ru", "message", "goal_letters", "campaign", "kind"):
        payload = {"campaign": "idf", "name": "Valley", "goal_letters": 5, field: value}
        response = api.post("/api/v1/teams/", payload, format="json")
        assert response.status_code in (201, 400), (field, response.status_code)
        if response.status_code == 400:
            assert list(response.json()) == [field], response.json()
        else:
            assert_safe(Client().get(f"/teams/{response.json()['slug']}/"))
