"""The data-entry grid: a shliach types names from a stack of paper cards, keyboard only. The
rows are saved as a draft while they type and sent to the import as one CSV file."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from allocation.forms import ConsentForm
from allocation.models import DEDICATION_TEXT_MAX_LENGTH, DedicationKind
from allocation.services import Consent
from scrolls.models import Campaign

from .grid_selectors import name_draft_get
from .grid_services import GRID_MAX_ROWS, GRID_MAX_VALUE_LENGTH, name_draft_import, name_draft_save
from .selectors import user_may_register_names

# Enough for GRID_MAX_ROWS full rows of Hebrew as JSON (two bytes a letter); Django's own
# DATA_UPLOAD_MAX_MEMORY_SIZE would refuse a large grid without a message we can show.
GRID_BODY_MAX_BYTES = 32 * 1024 * 1024


def _campaign_for_shliach(request, slug) -> Campaign:
    if not user_may_register_names(user=request.user):
        raise PermissionDenied
    return get_object_or_404(Campaign, slug=slug, active=True)


@never_cache
@login_required
def grid_page(request, slug):
    campaign = _campaign_for_shliach(request, slug)
    draft = name_draft_get(user=request.user, campaign=campaign)
    context = {
        "campaign": campaign,
        # The generic label where the parent depends on the name (the mother's, or the father's
        # for the departed); the campaign's own where it names one parent for everyone.
        "label_parent": (
            campaign.parent_name_label
            if campaign.parent_is_father or campaign.for_the_departed
            else _("Parent's Hebrew name")
        ),
        "draft_rows": draft.rows if draft else [],
        "max_rows": GRID_MAX_ROWS,
        "max_length": GRID_MAX_VALUE_LENGTH,
        # "No dedication" is the empty cell: a row left as it came keeps nothing in the draft.
        "dedication_kinds": DedicationKind.choices,
        "dedication_text_max_length": min(DEDICATION_TEXT_MAX_LENGTH, GRID_MAX_VALUE_LENGTH),
        "consent_form": ConsentForm(),
    }
    return render(request, "registrations/grid.html", context)


def _json_error(message, status):
    return JsonResponse({"error": str(message)}, status=status)


@never_cache
@require_http_methods(["GET", "PUT", "POST"])
def grid_draft(request, slug):
    """GET: the draft's rows. PUT or POST {"rows": [...]}: keep them. Answers JSON, also when
    signed out (the page's script retries and says so rather than following a login redirect)."""
    if not request.user.is_authenticated:
        return _json_error(_("You are signed out: sign in again in another tab and saving resumes."), 401)
    try:
        campaign = _campaign_for_shliach(request, slug)
    except PermissionDenied:
        return _json_error(_("You may not enter names for this campaign."), 403)
    if request.method == "GET":
        draft = name_draft_get(user=request.user, campaign=campaign)
        return JsonResponse(
            {"rows": draft.rows if draft else [], "saved_at": draft.updated_at.isoformat() if draft else None}
        )
    body = request.read(GRID_BODY_MAX_BYTES + 1)
    if len(body) > GRID_BODY_MAX_BYTES:
        return _json_error(_("The grid is too large to save."), 400)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return _json_error(_("The request is not JSON."), 400)
    if not isinstance(data, dict) or "rows" not in data:
        return _json_error(_('Send {"rows": [...]}.'), 400)
    try:
        draft = name_draft_save(user=request.user, campaign=campaign, rows=data["rows"])
    except ValidationError as error:
        return _json_error(" ".join(error.messages), 400)
    return JsonResponse({"saved_at": draft.updated_at.isoformat(), "row_count": len(draft.rows)})


@login_required
@require_POST
def grid_submit(request, slug):
    campaign = _campaign_for_shliach(request, slug)
    if not ConsentForm(request.POST).is_valid():
        # The draft is kept, as typed: ticking the box and sending again loses nothing.
        messages.error(request, _("Please confirm that the people you register agreed to the privacy notice."))
        return redirect("registrations:grid", slug=campaign.slug)
    try:
        name_import = name_draft_import(user=request.user, campaign=campaign, consent=Consent.given_now())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("registrations:grid", slug=campaign.slug)
    return redirect("registrations:import-detail", name_import.pk)
