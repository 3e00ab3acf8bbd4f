"""A team's paper cards, as a PDF to print (fundraising.cards draws them). Public: anyone
collecting for the team may print them, as anyone may open its page."""

from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from teams.selectors import team_public

from .cards import SHEETS_MAX, cards_labels_language, team_cards_pdf


def _sheets(value: str | None) -> int | None:
    """?sheets=: 1 by default; None where it is not a whole number from 1 to SHEETS_MAX."""
    if value is None or value == "":
        return 1
    value = value.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 3) or not 1 <= int(value) <= SHEETS_MAX:
        return None
    return int(value)


def team_cards(request, slug):
    team = team_public(slug=slug)
    if team is None:
        raise Http404
    sheets = _sheets(request.GET.get("sheets"))
    if sheets is None:
        message = _("Sheets: a whole number from 1 to %(limit)d (four cards a sheet).") % {"limit": SHEETS_MAX}
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
    labels = cards_labels_language(request.GET.get("labels"), get_language())
    data = team_cards_pdf(team=team, labels=labels, sheets=sheets)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="cards-{team.slug}-{labels}.pdf"'
    response["X-Robots-Tag"] = "noindex"
    return response
