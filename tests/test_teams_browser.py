"""A shliach opens a team in Hebrew in a browser, a buyer buys two letters through the team page's
button (demo payments), and the campaign page's leaderboard moves: the new team overtakes."""

import pytest

from allocation.models import Order
from allocation.services import order_fulfil
from teams.models import Team
from teams.services import team_create

from .conftest import make_user
from .factories import make_order, name_data
from .test_accessibility import AXE, _context, _violations

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def make_shliach(username):
    # The permission the shliach group gives (a transactional test's flush takes the group away).
    return make_user(username, permissions=["accounts.register_names"])


def _board(page) -> list[tuple[str, str]]:
    rows = page.locator("#team-leaderboard .leaderboard-row")
    return [
        (rows.nth(i).get_attribute("data-team"), rows.nth(i).get_attribute("data-letters")) for i in range(rows.count())
    ]


def test_a_team_opened_in_hebrew_is_bought_through_and_climbs_the_leaderboard(
    browser, live_server, campaigns, settings
):
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""
    idf = campaigns["idf"]
    rival = team_create(campaign=idf, owner=make_shliach("mendel"), name="Rival", goal_letters=50, leaderboard=True)
    rival_order = make_order(idf, names=[name_data(0)], team=rival)
    order_fulfil(order_id=rival_order.pk)
    shliach = make_shliach("levi")

    # The shliach opens the team in Hebrew.
    owner_context = _context(browser, live_server, "he", user=shliach)
    owner = owner_context.new_page()
    owner.goto(f"{live_server.url}/teams/new/?campaign=idf")
    assert owner.get_attribute("html", "dir") == "rtl"
    owner.fill("#id_name", "Beth Chabad of the Valley")
    owner.fill("#id_name_he", "בית חב״ד העמק")
    owner.fill("#id_message", "כל אות נחשבת!\nהצטרפו אלינו.")
    owner.fill("#id_goal_letters", "2")
    owner.check("#id_leaderboard")
    owner.click("#team-save")
    owner.wait_for_selector("#team-name")
    team = Team.objects.get(owner=shliach)
    assert owner.url == f"{live_server.url}/teams/{team.slug}/"
    assert owner.inner_text("#team-name") == "בית חב״ד העמק"
    assert owner.locator("#team-message br").count() == 1
    assert owner.locator("#team-edit-link").is_visible()
    if AXE.exists():
        assert _violations(owner, str(AXE), "team page (he, owner)") == []
    owner.goto(f"{live_server.url}/campaigns/idf/")
    assert _board(owner) == [(rival.slug, "1"), (team.slug, "0")]

    # A buyer opens the team's page in Hebrew and buys through its button.
    buyer_context = _context(browser, live_server, "he")
    buyer = buyer_context.new_page()
    buyer.goto(f"{live_server.url}/teams/{team.slug}/")
    assert buyer.locator("#team-edit-link").count() == 0
    assert buyer.get_attribute("#team-progress [role=progressbar]", "aria-valuenow") == "0"
    buyer.click("#team-buy")
    buyer.wait_for_selector("#team-credited")
    buyer.fill("#id_names-0-hebrew_name", "מנחם מענדל")
    buyer.fill("#id_names-0-parent_hebrew_name", "חיה מושקא")
    buyer.click("#add-name")
    buyer.fill("#id_names-1-hebrew_name", "שרה")
    buyer.select_option("#id_names-1-gender", "f")
    buyer.fill("#id_names-1-parent_hebrew_name", "רבקה")
    buyer.check("#id_names-1-listed")
    buyer.fill("#id_buyer_name", "רבקה כהן")
    buyer.fill("#id_buyer_email", "rivka@example.org")
    buyer.check("#id_consent")
    buyer.click("#continue-to-payment")
    buyer.wait_for_selector("#demo-succeed")
    buyer.click("#demo-succeed")
    buyer.wait_for_selector("#letters")
    assert Order.objects.get(buyer_email="rivka@example.org").team == team

    # The team's page counts them, shows the listed name, and its goal reached.
    buyer.goto(f"{live_server.url}/teams/{team.slug}/")
    assert buyer.get_attribute("#team-progress [role=progressbar]", "aria-valuenow") == "2"
    assert buyer.locator("#goal-reached").is_visible()
    assert buyer.inner_text("#team-recent-names").strip() == "שרה בת רבקה"

    # The campaign's leaderboard: the new team overtakes the rival.
    buyer.goto(f"{live_server.url}/campaigns/idf/")
    assert _board(buyer) == [(team.slug, "2"), (rival.slug, "1")]
    buyer.click(f"#team-leaderboard a[href='/teams/{team.slug}/']")
    buyer.wait_for_selector("#team-name")
    assert buyer.url == f"{live_server.url}/teams/{team.slug}/"

    # The owner sees the goal reached, with the way to raise it.
    owner.goto(f"{live_server.url}/teams/{team.slug}/")
    owner.click("#goal-raise")
    owner.wait_for_selector("#id_goal_letters")
    assert owner.url == f"{live_server.url}/teams/{team.slug}/edit/"
    owner_context.close()
    buyer_context.close()


@pytest.mark.parametrize("language", ["he", "en", "ru"])
def test_the_team_pages_and_leaderboards_pass_axe(browser, live_server, campaigns, language):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make node-packages installs it)")
    shliach = make_shliach("levi")
    team = team_create(
        campaign=campaigns["idf"],
        owner=shliach,
        name="Valley",
        name_he="העמק",
        goal_letters=1,
        message="שלום\nhello",
        leaderboard=True,
    )
    order_fulfil(order_id=make_order(campaigns["idf"], names=[name_data(0, listed=True)], team=team).pk)
    context = _context(browser, live_server, language, user=shliach)
    page = context.new_page()
    found = []
    for path in (
        f"/teams/{team.slug}/",
        "/teams/new/?campaign=idf",
        f"/teams/{team.slug}/edit/",
        "/campaigns/idf/",
        "/campaigns/idf/teams/",
        f"/widget/idf/?lang={language}&board=1",
    ):
        page.goto(f"{live_server.url}{path}")
        found += _violations(page, str(AXE), f"{path} ({language})")
    context.close()
    assert found == []
