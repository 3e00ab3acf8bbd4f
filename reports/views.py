import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from core.weeks import Week, campaign_zone, week_containing

from .rendering import (
    weekly_report_context,
    weekly_report_csv,
    weekly_report_filename,
    weekly_report_pdf,
)
from .selectors import report_campaigns_for, weekly_report

# How many past weeks the page offers in its list; any other is one URL away.
WEEKS_LISTED = 26


def _visible_campaigns(user):
    """Staff and the hanhala of at least one campaign; anyone else is refused outright."""
    campaigns = report_campaigns_for(user=user)
    if not campaigns.exists():
        raise PermissionDenied
    return campaigns


def _campaign(request, slug):
    # Another campaign than one's own is not found, rather than forbidden: its slug says nothing.
    return get_object_or_404(_visible_campaigns(request.user), slug=slug)


def _week(campaign, value: str | None) -> Week:
    """The week ending on the Friday `value` (YYYY-MM-DD); by default the last one ended. Weeks
    after the one still running do not exist yet."""
    zone = campaign_zone(campaign)
    running = week_containing(timezone.now(), zone=zone)
    if not value:
        return running.shifted(-1)
    try:
        week = Week(ending=datetime.date.fromisoformat(value), zone=zone)
    except ValueError:
        raise Http404 from None
    if week.ending > running.ending:
        raise Http404
    return week


@login_required
def index(request):
    return redirect("reports:dashboard", slug=_visible_campaigns(request.user).first().slug)


@login_required
def dashboard(request, slug):
    campaign = _campaign(request, slug)
    week = _week(campaign, request.GET.get("week"))
    report = weekly_report(campaign=campaign, week_ending=week.ending)
    running = week_containing(timezone.now(), zone=week.zone)
    listed = [running.shifted(-offset) for offset in range(WEEKS_LISTED + 1)]
    if week not in listed:
        listed.append(week)
    return render(
        request,
        "reports/dashboard.html",
        {
            **weekly_report_context(report),
            "campaigns": _visible_campaigns(request.user),
            "weeks": listed,
            "previous_week": week.shifted(-1),
            "next_week": week.shifted(1) if week.ending < running.ending else None,
            "running_week": running,
            "team_links": True,
        },
    )


@login_required
def report_pdf(request, slug, week):
    campaign = _campaign(request, slug)
    report = weekly_report(campaign=campaign, week_ending=_week(campaign, week).ending)
    response = HttpResponse(weekly_report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{weekly_report_filename(report, "pdf")}"'
    return response


@login_required
def report_csv(request, slug, week):
    campaign = _campaign(request, slug)
    report = weekly_report(campaign=campaign, week_ending=_week(campaign, week).ending)
    response = HttpResponse(weekly_report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{weekly_report_filename(report, "csv")}"'
    return response
