"""Teams' numbers where the people responsible read them: the shliach's dashboard (their own
teams against their goals, this week's letters, the links to each team's pages) and the hanhala's
weekly report (every team of its campaigns with the week, the week before and the total, and the
leaderboard with the week's movers) on the page, in the PDF and CSV and in the Friday email."""

import csv
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from allocation.models import OrderStatus
from allocation.services import order_transition
from reports.rendering import TEAMS_IN_EMAIL
from reports.selectors import weekly_report
from reports.services import weekly_report_send
from teams.models import Team
from teams.services import team_create, team_members_set

from .conftest import make_user
from .factories import make_order
from .test_accessibility import _context, _violations, axe_script  # noqa: F401  (a fixture)
from .test_reports import JERUSALEM, at, hanhala_of, pdf_text

pytestmark = pytest.mark.django_db

SHLIACH = ["accounts.register_names"]
ENDING = datetime.date(2025, 1, 10)  # the week: Friday 3 January to Thursday 9 January, Jerusalem
LONG_AGO = at(JERUSALEM, 2024, 12, 1)


def paid_for(team, when, count):
    """An order of `count` names for `team`, paid at `when`."""
    order = make_order(team.campaign, count, team=team)
    order_transition(order_id=order.pk, to=OrderStatus.PAID, now=when)
    return order


def opened(campaign, owner, name, *, goal=10, leaderboard=False, created_at=LONG_AGO):
    team = team_create(campaign=campaign, owner=owner, name=name, goal_letters=goal, leaderboard=leaderboard)
    Team.objects.filter(pk=team.pk).update(created_at=created_at)
    team.refresh_from_db()
    return team


# --- The shliach's dashboard -------------------------------------------------------------------


@pytest.fixture
def shluchim(campaigns, settings):
    settings.TEAMS_PER_SHLIACH = 30
    return make_user("levi", permissions=SHLIACH), make_user("mendel", permissions=SHLIACH)


def test_the_dashboard_shows_a_shliach_their_own_teams_with_their_numbers(client, campaigns, shluchim):
    levi, mendel = shluchim
    own = opened(campaigns["idf"], levi, "Beit Chabad Haifa", goal=10)
    joined = opened(campaigns["tomchei-temimim"], mendel, "Yeshiva Oholei Torah", goal=5)
    team_members_set(team=joined, by=mendel, members=[levi])
    others = opened(campaigns["idf"], mendel, "Chabad of Eilat", goal=8)
    now = timezone.now()
    paid_for(own, now, 3)  # this week
    paid_for(own, now - datetime.timedelta(days=8), 2)  # before this week began, in any zone
    make_order(campaigns["idf"], 4, team=own)  # not paid: not counted
    paid_for(joined, now, 6)
    paid_for(others, now, 7)

    client.force_login(levi)
    response = client.get("/shliach/")
    assert response.status_code == 200
    numbers = [(item["numbers"].team, item["numbers"].letters, item["numbers"].this_week)
               for item in response.context["teams"]]  # fmt: skip
    assert numbers == [(own, 5, 3), (joined, 6, 6)]
    page = response.content.decode()
    assert "Beit Chabad Haifa" in page and "Yeshiva Oholei Torah" in page
    assert "Chabad of Eilat" not in page and others.slug not in page
    assert "5 of 10 letters (50.0%)" in page and "3 letters this week" in page
    assert "6 of 5 letters (120.0%)" in page and "Goal reached" in page
    assert 'data-width="50.0"' in page and 'data-width="100.0"' in page  # the bar stops at its end

    # Each team's pages, its edit form for its owner only, and a team to open in each campaign.
    for team in (own, joined):
        for name in ("team-page", "team-cards", "registrations:card-photos"):
            assert f'href="{reverse(name, args=[team.slug])}"' in page, (name, team.slug)
    assert f'href="{reverse("team-edit", args=[own.slug])}"' in page
    assert f'href="{reverse("team-edit", args=[joined.slug])}"' not in page
    new = reverse("team-new")
    assert f'href="{new}?campaign=idf"' in page and f'href="{new}?campaign=tomchei-temimim"' in page

    # The other shliach sees his two teams, not Levi's own.
    client.force_login(mendel)
    response = client.get("/shliach/")
    assert [item["numbers"].team for item in response.context["teams"]] == [joined, others]
    assert "Beit Chabad Haifa" not in response.content.decode()


def test_the_team_links_of_the_dashboard_lead_to_their_pages(client, campaigns, shluchim):
    """The template draws a link only when its page is routed (so it never broke while they were
    being built); they all are now, and each answers its owner."""
    levi, _mendel = shluchim
    team = opened(campaigns["idf"], levi, "Beit Chabad Haifa")
    client.force_login(levi)
    page = client.get("/shliach/").content.decode()
    for name in ("team-page", "team-edit", "team-cards", "registrations:card-photos"):
        link = reverse(name, args=[team.slug])
        assert f'href="{link}"' in page, name
        assert client.get(link).status_code == 200, name
    new = f"{reverse('team-new')}?campaign=idf"
    assert f'href="{new}"' in page and client.get(new).status_code == 200


def test_a_shliach_without_teams_is_offered_to_open_one(client, campaigns, shluchim):
    levi, _mendel = shluchim
    client.force_login(levi)
    response = client.get("/shliach/")
    assert response.context["teams"] == []
    assert "You have no team yet" in response.content.decode()


def test_the_dashboard_counts_its_teams_in_as_many_queries_for_two_teams_as_for_twenty(client, campaigns, shluchim):
    levi, mendel = shluchim
    client.force_login(levi)
    now = timezone.now()
    for index in range(2):
        paid_for(opened(campaigns["idf"], levi, f"Team {index}"), now, 1)
    with CaptureQueriesContext(connection) as two:
        assert len(client.get("/shliach/").context["teams"]) == 2
    for index in range(2, 20):
        team = opened(campaigns["tomchei-temimim" if index % 2 else "idf"], mendel, f"Team {index}")
        team_members_set(team=team, by=mendel, members=[levi])
        paid_for(team, now, 2)
    with CaptureQueriesContext(connection) as twenty:
        assert len(client.get("/shliach/").context["teams"]) == 20
    assert len(twenty) == len(two)


# --- The weekly report ---------------------------------------------------------------------------


@pytest.fixture
def report_teams(campaigns, shluchim):
    """Teams of the IDF campaign (Jerusalem), with letters across the week ending 10 January:
    its first moment is Friday 3 January 00:00, its last Thursday 9 January 23:59:59.999999."""
    levi, mendel = shluchim
    idf = campaigns["idf"]
    week_start = at(JERUSALEM, 2025, 1, 3)
    week_end = at(JERUSALEM, 2025, 1, 10)
    tick = datetime.timedelta(microseconds=1)
    teams = {
        # Not on the public leaderboard, but in the hanhala's report all the same.
        "haifa": opened(idf, levi, "Beit Chabad Haifa", goal=20),
        "eilat": opened(idf, mendel, "Chabad of Eilat", goal=50, leaderboard=True),
        "safed": opened(idf, mendel, "Tzfat Yeshiva", goal=10, leaderboard=True),
        "galil": opened(idf, levi, "Galil Girls", goal=30, leaderboard=True),
        "negev": opened(idf, levi, "Negev Base", goal=5, leaderboard=True),
        # Opened during the week: new on the leaderboard.
        "golan": opened(idf, mendel, "Golan Unit", goal=5, leaderboard=True, created_at=at(JERUSALEM, 2025, 1, 6)),
        # Opened after the week ended: not in its report.
        "later": opened(idf, mendel, "Opened Later", leaderboard=True, created_at=at(JERUSALEM, 2025, 1, 12)),
        # Another campaign's team, whose hanhala is another.
        "sefardi": opened(campaigns["sefardi"], levi, "Kehilat Sefardi", leaderboard=True),
    }
    paid_for(teams["haifa"], week_start - datetime.timedelta(days=7) - tick, 1)  # the week before last
    paid_for(teams["haifa"], week_start - tick, 2)  # the last moment of last week
    paid_for(teams["haifa"], week_start, 3)  # the first of this week
    paid_for(teams["haifa"], week_end - tick, 4)  # its last
    paid_for(teams["haifa"], week_end, 5)  # the next week's first: after the report's week
    paid_for(teams["galil"], LONG_AGO, 30)  # first before and after: no change
    paid_for(teams["eilat"], at(JERUSALEM, 2024, 12, 30), 10)  # second at the start, third at the end
    paid_for(teams["safed"], at(JERUSALEM, 2024, 12, 30), 1)  # third at the start...
    paid_for(teams["safed"], at(JERUSALEM, 2025, 1, 7), 20)  # ...second at the end
    paid_for(teams["golan"], at(JERUSALEM, 2025, 1, 8), 5)  # new, fourth
    # Negev: no letters, fourth at the start, fifth at the end.
    paid_for(teams["later"], at(JERUSALEM, 2025, 1, 13), 40)
    paid_for(teams["sefardi"], at(JERUSALEM, 2025, 1, 7), 9)
    return teams


def test_the_weekly_report_counts_every_team_of_the_campaign_across_friday(campaigns, report_teams):
    report = weekly_report(campaign=campaigns["idf"], week_ending=ENDING)
    rows = {row.team.slug: (row.this_week, row.last_week, row.letters, row.goal, row.percent, row.goal_reached)
            for row in report.teams}  # fmt: skip
    teams = report_teams
    assert rows == {
        teams["haifa"].slug: (7, 2, 10, 20, 50.0, False),
        teams["galil"].slug: (0, 0, 30, 30, 100.0, True),
        teams["eilat"].slug: (0, 10, 10, 50, 20.0, False),
        teams["safed"].slug: (20, 1, 21, 10, 210.0, True),
        teams["golan"].slug: (5, 0, 5, 5, 100.0, True),
        teams["negev"].slug: (0, 0, 0, 5, 0.0, False),
    }
    # Most letters first.
    assert [row.team.slug for row in report.teams][:2] == [teams["galil"].slug, teams["safed"].slug]

    movers = [(place.figures.team.slug, place.rank, place.rank_before, place.change) for place in report.leaderboard]
    assert movers == [
        (teams["galil"].slug, 1, 1, 0),
        (teams["safed"].slug, 2, 3, 1),
        (teams["eilat"].slug, 3, 2, -1),
        (teams["golan"].slug, 4, None, None),
        (teams["negev"].slug, 5, 4, -1),
    ]
    # The next week: Haifa's five of Friday 10 January count there.
    following = weekly_report(campaign=campaigns["idf"], week_ending=ENDING + datetime.timedelta(days=7))
    haifa = next(row for row in following.teams if row.team == teams["haifa"])
    assert (haifa.this_week, haifa.last_week, haifa.letters) == (5, 7, 15)


def test_teams_with_as_many_letters_share_a_rank(campaigns, shluchim):
    levi, _mendel = shluchim
    idf = campaigns["idf"]
    first = opened(idf, levi, "First", leaderboard=True)
    second = opened(idf, levi, "Second", leaderboard=True)
    third = opened(idf, levi, "Third", leaderboard=True)
    paid_for(first, at(JERUSALEM, 2025, 1, 6), 3)
    paid_for(second, at(JERUSALEM, 2025, 1, 6), 3)
    paid_for(third, at(JERUSALEM, 2025, 1, 6), 1)
    report = weekly_report(campaign=idf, week_ending=ENDING)
    assert [(place.rank, place.rank_before) for place in report.leaderboard] == [(1, 1), (1, 1), (3, 1)]


def test_the_hanhala_reads_every_team_of_its_campaign_on_the_page_pdf_and_csv(client, campaigns, report_teams):
    client.force_login(hanhala_of("hanhala-idf", campaigns["idf"]))
    response = client.get(f"/reports/idf/?week={ENDING.isoformat()}")
    assert response.status_code == 200
    page = response.content.decode()
    teams = report_teams
    for key in ("haifa", "eilat", "safed", "galil", "negev", "golan"):
        assert f'data-team="{teams[key].slug}"' in page, key
    assert "Kehilat Sefardi" not in page and "Opened Later" not in page
    haifa_row = page.split(f'<tr class="team-row" data-team="{teams["haifa"].slug}">')[1].split("</tr>")[0]
    for cell in ('this-week" dir="ltr">7<', 'last-week" dir="ltr">2<', 'letters" dir="ltr">10<', 'goal" dir="ltr">20<'):
        assert cell in haifa_row
    # The movers: arrows and +N/-N for the eye, words for a screen reader.
    safed = page.split(f'data-team="{teams["safed"].slug}" data-rank="2" data-change="1"')[1].split("</tr>")[0]
    assert "▲ +1" in safed and "up 1 place" in safed
    eilat = page.split(f'data-team="{teams["eilat"].slug}" data-rank="3" data-change="-1"')[1].split("</tr>")[0]
    assert "▼ -1" in eilat and "down 1 place" in eilat
    assert "new this week" in page.split(f'data-team="{teams["golan"].slug}" data-rank="4" data-change="new"')[1]
    assert f'href="{reverse("team-page", args=[teams["haifa"].slug])}"' in page

    rows = list(
        csv.reader(client.get(f"/reports/idf/week-ending-{ENDING}.csv").content.decode("utf-8-sig").splitlines())
    )
    by_slug = {row[1]: row for row in rows if len(row) > 1 and row[1] in {team.slug for team in teams.values()}}
    assert by_slug[teams["haifa"].slug][2:8] == ["7", "2", "10", "20", "50.0", "no"]
    assert teams["sefardi"].slug not in by_slug and teams["later"].slug not in by_slug
    leaderboard = {row[1]: row for row in rows if len(row) == 6 and row[0].isdigit()}
    assert leaderboard["Tzfat Yeshiva"][4:] == ["3", "1"] and leaderboard["Golan Unit"][4:] == ["new", ""]

    pdf = pdf_text(client.get(f"/reports/idf/week-ending-{ENDING}.pdf").content)
    assert "Beit Chabad Haifa" in pdf and "Tzfat Yeshiva" in pdf and "Kehilat Sefardi" not in pdf


def test_the_weekly_email_lists_the_teams_and_the_movers(campaigns, report_teams, mailoutbox):
    hanhala_of("hanhala-idf", campaigns["idf"])
    assert weekly_report_send(campaign_id=campaigns["idf"].pk, week_ending=ENDING)
    [message] = mailoutbox
    text = message.body
    html = message.alternatives[0][0]
    teams = report_teams
    assert "- Beit Chabad Haifa: 7 / 2 / 10 / 20 (50.0%)" in text
    assert "- Tzfat Yeshiva: 20 / 1 / 21 / 10 (210.0%, goal reached)" in text
    assert "2. Tzfat Yeshiva: 21 (up 1 place, +1)" in text
    assert "3. Chabad of Eilat: 10 (down 1 place, -1)" in text
    assert "1. Galil Girls: 30 (no change)" in text and "4. Golan Unit: 5 (new this week)" in text
    assert "Kehilat Sefardi" not in text + html and "Opened Later" not in text + html
    for key in ("haifa", "eilat", "safed", "galil", "negev", "golan"):
        assert f'data-team="{teams[key].slug}"' in html, key
    assert "up 1 place" in html and "more teams" not in html


def test_the_email_lists_the_first_teams_and_links_the_rest(campaigns, shluchim, mailoutbox):
    levi, _mendel = shluchim
    idf = campaigns["idf"]
    count = TEAMS_IN_EMAIL + 3
    Team.objects.bulk_create(
        Team(campaign=idf, owner=levi, slug=f"team-{index:03d}", name=f"Team {index:03d}", goal_letters=10,
             leaderboard=True, created_at=LONG_AGO)
        for index in range(count)
    )  # fmt: skip
    paid_for(Team.objects.get(slug="team-052"), at(JERUSALEM, 2025, 1, 6), 4)
    hanhala_of("hanhala-idf", idf)
    weekly_report_send(campaign_id=idf.pk, week_ending=ENDING)
    [message] = mailoutbox
    html = message.alternatives[0][0]
    assert html.count("data-team=") == 2 * TEAMS_IN_EMAIL  # the teams' table and the leaderboard
    assert 'data-team="team-052"' in html  # the most letters first
    assert "And 3 more teams: see the full report." in message.body
    assert "And 3 more teams on the leaderboard: see the full report." in html
    assert f"/reports/idf/?week={ENDING.isoformat()}#teams" in html


def test_the_report_reads_its_teams_in_as_many_queries_for_two_teams_as_for_twenty(
    client, campaigns, shluchim, django_assert_max_num_queries
):
    levi, mendel = shluchim
    idf = campaigns["idf"]
    client.force_login(hanhala_of("hanhala-idf", idf))
    for index in range(2):
        paid_for(opened(idf, levi, f"Team {index}", leaderboard=True), at(JERUSALEM, 2025, 1, 6), index + 1)
    with CaptureQueriesContext(connection) as two:
        assert len(client.get(f"/reports/idf/?week={ENDING}").context["report"].teams) == 2
    with CaptureQueriesContext(connection) as two_alone:
        weekly_report(campaign=idf, week_ending=ENDING)
    for index in range(2, 20):
        team = opened(idf, mendel, f"Team {index}", leaderboard=index % 2 == 0)
        paid_for(team, at(JERUSALEM, 2025, 1, 1), 1)
        paid_for(team, at(JERUSALEM, 2025, 1, 6), index)
    with django_assert_max_num_queries(len(two)):
        assert len(client.get(f"/reports/idf/?week={ENDING}").context["report"].teams) == 20
    with django_assert_max_num_queries(len(two_alone)):
        assert len(weekly_report(campaign=idf, week_ending=ENDING).leaderboard) == 11


# --- Accessibility ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "he", "ru"])
def test_the_teams_on_the_dashboard_and_in_the_report_pass_axe(browser, live_server, campaigns, axe_script, language):
    shliach = make_user("a11y-team-shliach", permissions=SHLIACH)
    idf = campaigns["idf"]
    reached = team_create(campaign=idf, owner=shliach, name="Beit Chabad Haifa", name_he="בית חב״ד חיפה",
                          goal_letters=2, leaderboard=True)  # fmt: skip
    Team.objects.filter(pk=reached.pk).update(created_at=LONG_AGO)
    climbing = opened(idf, shliach, "Tzfat Yeshiva", leaderboard=True)
    falling = opened(idf, shliach, "Chabad of Eilat", leaderboard=True)
    paid_for(reached, timezone.now(), 3)
    paid_for(falling, at(JERUSALEM, 2024, 12, 30), 2)
    paid_for(climbing, at(JERUSALEM, 2025, 1, 7), 4)
    hanhala = hanhala_of("a11y-hanhala", idf)

    found = []
    for user, path in ((shliach, "/shliach/"), (hanhala, f"/reports/idf/?week={ENDING}")):
        context = _context(browser, live_server, language, user)
        page = context.new_page()
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert page.locator("[data-team]").count() >= 1, path
        found += _violations(page, axe_script, f"{language} {path}")
        context.close()
    assert not found, "\n".join(found)
