"""Weekly reports: Friday-to-Friday weeks in each campaign's time zone, the figures, who may read
them, the PDF and CSV, the command and the Friday email."""

import csv
import datetime
import io
import subprocess
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from pypdf import PdfReader

from accounts.models import Profile
from allocation.models import Letter, Order, OrderChannel, OrderStatus
from allocation.services import order_refund_record, order_transition
from reports.models import WeeklyReportSent
from reports.selectors import weekly_report, weekly_reports_due
from reports.tasks import send_weekly_reports
from reports.weeks import Week, week_containing, week_last_ended
from scrolls.models import Campaign, Scroll

from .conftest import make_user
from .factories import make_order, name_data

NEW_YORK = ZoneInfo("America/New_York")
JERUSALEM = ZoneInfo("Asia/Jerusalem")
UTC = datetime.UTC


def at(zone, *args):
    return datetime.datetime(*args, tzinfo=zone)


def paid_with_letters(campaign, when, count=1, *, channel=OrderChannel.ONLINE, created_by=None, referred_by=None,
                      city="Brooklyn", country="US", amount=None, currency=None, letters_at=None):  # fmt: skip
    """An order paid at `when` whose names got their letters at `letters_at` (default: when).

    The allocation service writes letters at the present moment; a report is about past weeks,
    so these letters are written straight into the open scroll with the times a test needs
    (inserting is all the letter guard allows, and all that is done here)."""
    names = [name_data(index, city=city, country=country) for index in range(count)]
    order = make_order(campaign, names=names, channel=channel, created_by=created_by)
    # What it comes to is set while it is pending: once paid, the database keeps it as it is.
    changes = {"referred_by": referred_by}
    if amount is not None:
        changes["amount"] = amount
    if currency is not None:
        changes["currency"] = currency
    Order.objects.filter(pk=order.pk).update(**changes)
    order_transition(order_id=order.pk, to=OrderStatus.PAID, now=when)
    scroll = Scroll.objects.get(campaign=campaign, state="open")
    first = scroll.steps_walked + 1
    Letter.objects.bulk_create(
        Letter(scroll=scroll, position=first + index, name=name, allocated_at=letters_at or when)
        for index, name in enumerate(order.names.order_by("id"))
    )
    Scroll.objects.filter(pk=scroll.pk).update(
        steps_walked=F("steps_walked") + count, letters_allocated=F("letters_allocated") + count
    )
    return order


def open_scroll_since(campaign, moment):
    Scroll.objects.filter(campaign=campaign, state="open").update(opened_at=moment)


# --- Weeks ------------------------------------------------------------------------------------


def test_a_week_ends_at_midnight_starting_friday_in_new_york_and_jerusalem():
    week = Week(ending=datetime.date(2025, 1, 10), zone=NEW_YORK)
    assert (week.start, week.end) == (at(UTC, 2025, 1, 3, 5), at(UTC, 2025, 1, 10, 5))
    assert (week.first_day, week.last_day) == (datetime.date(2025, 1, 3), datetime.date(2025, 1, 9))
    week = Week(ending=datetime.date(2025, 1, 10), zone=JERUSALEM)
    assert (week.start, week.end) == (at(UTC, 2025, 1, 2, 22), at(UTC, 2025, 1, 9, 22))
    with pytest.raises(ValueError):
        Week(ending=datetime.date(2025, 1, 9), zone=NEW_YORK)


@pytest.mark.parametrize(
    "zone, moment, ending",
    [
        (NEW_YORK, at(NEW_YORK, 2025, 1, 9, 23, 59, 59, 999999), datetime.date(2025, 1, 10)),
        (NEW_YORK, at(NEW_YORK, 2025, 1, 10, 0, 0), datetime.date(2025, 1, 17)),
        (NEW_YORK, at(NEW_YORK, 2025, 1, 3, 0, 0), datetime.date(2025, 1, 10)),
        (JERUSALEM, at(JERUSALEM, 2025, 1, 9, 23, 59, 59), datetime.date(2025, 1, 10)),
        (JERUSALEM, at(JERUSALEM, 2025, 1, 10, 0, 0), datetime.date(2025, 1, 17)),
        # Thursday 23:00 UTC is already Friday in Jerusalem, still Thursday in New York.
        (JERUSALEM, at(UTC, 2025, 1, 9, 23, 0), datetime.date(2025, 1, 17)),
        (NEW_YORK, at(UTC, 2025, 1, 9, 23, 0), datetime.date(2025, 1, 10)),
    ],
)
def test_which_week_a_moment_falls_in(zone, moment, ending):
    assert week_containing(moment, zone=zone).ending == ending


def test_the_last_week_ended_turns_over_at_friday_midnight():
    assert week_last_ended(zone=NEW_YORK, now=at(NEW_YORK, 2025, 1, 9, 23, 59)).ending == datetime.date(2025, 1, 3)
    assert week_last_ended(zone=NEW_YORK, now=at(NEW_YORK, 2025, 1, 10, 0, 0)).ending == datetime.date(2025, 1, 10)
    assert week_last_ended(zone=JERUSALEM, now=at(NEW_YORK, 2025, 1, 9, 17, 0)).ending == datetime.date(2025, 1, 10)


@pytest.mark.parametrize(
    "zone, ending, hours",
    [
        (NEW_YORK, datetime.date(2025, 3, 14), 167),  # clocks forward Sunday 9 March
        (NEW_YORK, datetime.date(2025, 11, 7), 169),  # back Sunday 2 November
        (JERUSALEM, datetime.date(2025, 4, 4), 167),  # forward Friday 28 March at 02:00
        (JERUSALEM, datetime.date(2025, 3, 28), 168),  # ends at 00:00, before that change
        (JERUSALEM, datetime.date(2025, 10, 31), 169),  # back Sunday 26 October
    ],
)
def test_weeks_across_daylight_saving_changes_are_seven_local_days(zone, ending, hours):
    week = Week(ending=ending, zone=zone)
    assert week.end - week.start == datetime.timedelta(hours=hours)
    assert week.start.astimezone(zone).time() == week.end.astimezone(zone).time() == datetime.time(0)


# --- Figures ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug, zone, ending",
    [
        ("tomchei-temimim", NEW_YORK, datetime.date(2025, 1, 10)),
        ("idf", JERUSALEM, datetime.date(2025, 1, 10)),
        ("tomchei-temimim", NEW_YORK, datetime.date(2025, 3, 14)),
        ("idf", JERUSALEM, datetime.date(2025, 4, 4)),
        ("idf", JERUSALEM, datetime.date(2025, 10, 31)),
    ],
)
def test_letters_count_in_the_week_of_their_local_time(campaigns, slug, zone, ending):
    campaign = campaigns[slug]
    friday = datetime.datetime.combine(ending, datetime.time(0), tzinfo=zone)
    thursday_last_moment = friday - datetime.timedelta(microseconds=1)
    week_start = datetime.datetime.combine(ending - datetime.timedelta(days=7), datetime.time(0), tzinfo=zone)
    paid_with_letters(campaign, week_start - datetime.timedelta(microseconds=1), 1)  # the week before
    paid_with_letters(campaign, week_start, 2)  # the first moment of the week
    paid_with_letters(campaign, thursday_last_moment, 3)  # its last moment
    paid_with_letters(campaign, friday, 4)  # the next week's first moment

    report = weekly_report(campaign=campaign, week_ending=ending)
    assert (report.this_week.letters, report.this_week.names, report.this_week.orders) == (5, 5, 2)
    assert (report.last_week.letters, report.last_week.orders) == (1, 1)
    following = weekly_report(campaign=campaign, week_ending=ending + datetime.timedelta(days=7))
    assert following.this_week.letters == 4


@pytest.mark.django_db
def test_the_figures_of_a_week(campaigns):
    campaign = campaigns["tomchei-temimim"]
    ending = datetime.date(2025, 1, 10)
    monday = at(NEW_YORK, 2025, 1, 6, 12)
    shliach = make_user("levi")
    shliach.first_name, shliach.last_name = "Levi", "Shapiro"
    shliach.save()
    other = make_user("mendy")
    open_scroll_since(campaign, at(NEW_YORK, 2024, 11, 1))

    paid_with_letters(campaign, monday, 3, amount=Decimal("54.00"), city="Crown Heights")
    paid_with_letters(campaign, monday, 10, channel=OrderChannel.SHLIACH, created_by=shliach, city="Paris",
                      country="FR", amount=Decimal("180.00"))  # fmt: skip
    paid_with_letters(campaign, monday, 2, channel=OrderChannel.OFFLINE, created_by=other, city="paris",
                      country="FR", amount=Decimal("36.00"))  # fmt: skip
    # Online, brought by the shliach's referral link: credited to him.
    paid_with_letters(campaign, monday, 1, referred_by=shliach, amount=Decimal("18.00"))
    paid_with_letters(campaign, monday, 4, channel=OrderChannel.API, amount=Decimal("50.00"), currency="ILS")
    refunded = paid_with_letters(campaign, monday, 1, amount=Decimal("18.00"))
    order_refund_record(order_id=refunded.pk)
    # Last week, and three and four weeks before.
    paid_with_letters(campaign, at(NEW_YORK, 2025, 1, 1, 9), 7, amount=Decimal("126.00"))
    paid_with_letters(campaign, at(NEW_YORK, 2024, 12, 16, 9), 8, amount=Decimal("144.00"))
    paid_with_letters(campaign, at(NEW_YORK, 2024, 12, 10, 9), 100)  # outside the four weeks
    # Paid in the week but written the next: a name this week, a letter the next.
    paid_with_letters(campaign, at(NEW_YORK, 2025, 1, 9, 23), 1, letters_at=at(NEW_YORK, 2025, 1, 10, 1))
    # Another campaign's order is not counted.
    paid_with_letters(campaigns["beis-rivkah"], monday, 50)
    # Nor an order still waiting for payment.
    make_order(campaign, 9)

    report = weekly_report(campaign=campaign, week_ending=ending)
    assert report.complete
    this, last = report.this_week, report.last_week
    assert (this.letters, this.names, this.orders) == (21, 22, 7)
    assert this.revenue == {"USD": Decimal("306.00"), "ILS": Decimal("50.00")}
    assert (last.letters, last.names, last.orders, last.revenue) == (7, 7, 1, {"USD": Decimal("126.00")})
    assert [figures.letters for figures in report.trend] == [8, 0, 7, 21]
    letters_row = report.comparison[0]
    assert (letters_row.this_week, letters_row.last_week, letters_row.change_percent) == (21, 7, 200.0)
    assert letters_row.average == 9.0

    channels = {channel.channel: channel for channel in report.channels}
    assert (channels["online"].orders, channels["online"].names) == (4, 6)
    assert (channels["shliach"].orders, channels["shliach"].names) == (1, 10)
    assert (channels["offline"].orders, channels["api"].orders) == (1, 1)
    assert (channels["online"].orders_last_week, channels["shliach"].orders_last_week) == (1, 0)

    assert [(item.label, item.names, item.orders) for item in report.top_shluchim] == [
        ("Levi Shapiro", 11, 2),
        ("mendy", 2, 1),
    ]
    # Cities are grouped whatever their case ("Paris" and "paris"), shown in one of the spellings.
    assert [(item.label.lower(), item.detail, item.names) for item in report.top_cities] == [
        ("paris", "FR", 12),
        ("brooklyn", "US", 7),
        ("crown heights", "US", 3),
    ]
    assert [(item.label, item.names) for item in report.top_countries] == [("FR", 12), ("US", 10)]

    # The open scroll when the week ended (the letter written after it is not counted), and
    # the day it fills at the pace of the four weeks (36 letters in 28 days).
    scroll = report.open_scroll
    assert (scroll.number, scroll.letters_allocated) == (1, 136)
    assert report.pace_per_day == pytest.approx(36 / 28)
    remaining_days = -(-(304805 - 136) * 28 // 36)
    assert report.projected_fill == ending + datetime.timedelta(days=remaining_days)


# --- Who may read them --------------------------------------------------------------------------


def hanhala_of(username, *campaigns):
    user = make_user(username, permissions=["accounts.view_reports"])
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.campaigns.add(*campaigns)
    return user


@pytest.mark.django_db
def test_a_hanhala_user_sees_only_their_campaigns(client, campaigns):
    member = hanhala_of("hanhala-idf", campaigns["idf"])
    client.force_login(member)
    assert client.get("/reports/").url == "/reports/idf/"
    page = client.get("/reports/idf/")
    assert page.status_code == 200 and campaigns["idf"].name in page.content.decode()
    assert "Tomchei" not in page.content.decode()
    week = page.context["report"].week.ending.isoformat()
    for url in ["/reports/tomchei-temimim/", f"/reports/tomchei-temimim/week-ending-{week}.pdf",
                f"/reports/tomchei-temimim/week-ending-{week}.csv"]:  # fmt: skip
        assert client.get(url).status_code == 404
    assert client.get(f"/reports/idf/week-ending-{week}.csv").status_code == 200
    # Not a Friday, or a week that has not begun: no such report.
    assert client.get("/reports/idf/?week=2025-01-09").status_code == 404
    assert client.get("/reports/idf/?week=2999-01-04").status_code == 404


@pytest.mark.django_db
def test_staff_see_every_campaign_and_anyone_else_nothing(client, campaigns, staff_user, plain_shliach):
    client.force_login(staff_user)
    assert client.get("/reports/tomchei-temimim/").status_code == 200
    client.force_login(plain_shliach)
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/idf/").status_code == 403
    client.logout()
    assert client.get("/reports/idf/").status_code == 302


# --- PDF, CSV and the command ---------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdftotext(data: bytes) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return result.stdout.decode()


@pytest.mark.django_db
def test_the_pdf_report_reads_back_with_the_right_numbers(client, campaigns):
    campaign = campaigns["idf"]
    open_scroll_since(campaign, at(JERUSALEM, 2024, 12, 1))
    monday = at(JERUSALEM, 2025, 1, 6, 12)
    paid_with_letters(campaign, monday, 1234, channel=OrderChannel.SHLIACH, created_by=make_user("yossi"),
                      amount=Decimal("22212.00"), city="Haifa", country="IL")  # fmt: skip
    paid_with_letters(campaign, at(JERUSALEM, 2025, 1, 1, 12), 617, amount=Decimal("11106.00"), city="Safed",
                      country="IL")  # fmt: skip
    client.force_login(hanhala_of("hanhala-idf", campaign))
    response = client.get("/reports/idf/week-ending-2025-01-10.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "unitysefer-idf-week-ending-2025-01-10.pdf" in response["Content-Disposition"]
    for text in (pdf_text(response.content), pdftotext(response.content)):
        assert "Israel Defense Forces" in text or campaign.name in text
        assert "1,234" in text and "617" in text  # letters this week and last
        assert "22,212.00" in text and "11,106.00" in text  # revenue (ILS)
        assert "+100.0%" in text
        assert "yossi" in text and "Haifa" in text
        assert "1,851 of 304,805" in text  # the open scroll when the week ended
    assert len(PdfReader(io.BytesIO(response.content)).pages) <= 3


@pytest.mark.django_db
def test_the_command_writes_the_csv_and_the_pdf(campaigns, tmp_path):
    campaign = campaigns["tomchei-temimim"]
    paid_with_letters(campaign, at(NEW_YORK, 2025, 1, 6, 12), 5, amount=Decimal("90.00"), city="=cmd|calc")
    path = tmp_path / "report.csv"
    call_command("weekly_report", campaign="tomchei-temimim", week_ending="2025-01-10", format="csv", output=str(path))
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[1][:2] == ["Week ending", "2025-01-10"]
    by_label = {row[0]: row for row in rows if row}
    assert by_label["Letters written"][1:3] == ["5", "0"]
    assert by_label["Revenue (USD)"][1:3] == ["90.00", "0.00"]
    assert any(row[1:3] == ["'=cmd|calc", "US"] for row in rows if len(row) > 2)  # not a formula

    pdf = tmp_path / "report.pdf"
    call_command("weekly_report", campaign="tomchei-temimim", week_ending="2025-01-10", format="pdf", output=str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    with pytest.raises(CommandError, match="weeks end on Fridays"):
        call_command("weekly_report", campaign="tomchei-temimim", week_ending="2025-01-11", output=str(pdf))
    with pytest.raises(CommandError, match="No campaign"):
        call_command("weekly_report", campaign="nothing", output=str(pdf))


# --- The Friday email ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_friday_each_hanhala_gets_their_report_once(campaigns, mailoutbox):
    hanhala_of("chaim", campaigns["idf"])
    hanhala_of("sara", campaigns["idf"], campaigns["sefardi"])
    inactive = hanhala_of("gone", campaigns["idf"])
    inactive.is_active = False
    inactive.save()

    send_weekly_reports.delay()
    assert len(mailoutbox) == 2
    by_subject = {message.subject.split(":")[0]: message for message in mailoutbox}
    idf = by_subject[campaigns["idf"].name]
    assert sorted(idf.to) == ["chaim@example.org", "sara@example.org"]
    assert by_subject[campaigns["sefardi"].name].to == ["sara@example.org"]
    (filename, content, mimetype) = idf.attachments[0]
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    week = week_last_ended(zone=JERUSALEM)
    assert filename == f"unitysefer-idf-week-ending-{week.ending.isoformat()}.pdf"
    assert WeeklyReportSent.objects.filter(campaign=campaigns["idf"], week_ending=week.ending).exists()

    send_weekly_reports.delay()  # the next hourly run on the same Friday
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_the_hanhala_role_not_the_profile_alone_opens_the_reports(client, campaigns, mailoutbox):
    """Reports follow the hanhala's permission (here through the hanhala group): a user taken
    out of the role reads nothing and is sent nothing, though their profile still lists campaigns."""
    from django.contrib.auth.models import Group

    member = make_user("board-member")
    member.profile.campaigns.add(campaigns["idf"])
    former = make_user("former-member")
    former.profile.campaigns.add(campaigns["idf"])
    member.groups.add(Group.objects.get(name="hanhala"))

    client.force_login(member)
    assert client.get("/reports/idf/").status_code == 200
    client.force_login(former)
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/idf/").status_code in (403, 404)
    send_weekly_reports.delay()
    assert [message.to for message in mailoutbox] == [["board-member@example.org"]]


@pytest.mark.django_db
def test_each_campaign_is_due_when_its_own_friday_begins(campaigns):
    hanhala_of("chaim", campaigns["idf"], campaigns["tomchei-temimim"])
    # Thursday 23:00 UTC: Friday 01:00 in Jerusalem, Thursday 18:00 in New York.
    now = at(UTC, 2025, 1, 9, 23)
    due = dict(weekly_reports_due(now=now))
    assert due == {
        campaigns["idf"].pk: datetime.date(2025, 1, 10),
        campaigns["tomchei-temimim"].pk: datetime.date(2025, 1, 3),
    }
    WeeklyReportSent.objects.create(campaign=campaigns["tomchei-temimim"], week_ending=datetime.date(2025, 1, 3))
    assert dict(weekly_reports_due(now=now)) == {campaigns["idf"].pk: datetime.date(2025, 1, 10)}
    new_york_friday = dict(weekly_reports_due(now=at(UTC, 2025, 1, 10, 5)))
    assert new_york_friday[campaigns["tomchei-temimim"].pk] == datetime.date(2025, 1, 10)


@pytest.mark.django_db
def test_a_misspelt_time_zone_is_refused_and_cannot_stop_the_other_reports(campaigns):
    from django.core.exceptions import ValidationError

    campaign = campaigns["tomchei-temimim"]
    campaign.time_zone = "Jerusalem"
    with pytest.raises(ValidationError) as refused:
        campaign.full_clean()
    assert "is not a time zone" in str(refused.value.message_dict["time_zone"])
    # Set around the validation (the shell, SQL): that campaign is skipped, the others are due.
    Campaign.objects.filter(pk=campaign.pk).update(time_zone="Jerusalem")
    hanhala_of("chaim", campaigns["idf"], campaign)
    due = dict(weekly_reports_due(now=at(UTC, 2025, 1, 9, 23)))
    assert due == {campaigns["idf"].pk: datetime.date(2025, 1, 10)}
