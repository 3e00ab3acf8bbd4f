from collections import Counter

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.selectors import user_is_shliach
from accounts.services import profile_for
from allocation.forms import ConsentForm
from allocation.services import Consent, order_amount_suggested
from scrolls.selectors import campaign_list_active
from teams.services import team_may_change

from .forms import ConfirmForm, ImportForm
from .models import ImportStatus, NameImport
from .selectors import shliach_campaign_totals, shliach_orders_page, shliach_teams, user_may_register_names
from .services import (
    name_import_confirm,
    name_import_payment_choices,
    name_import_progress,
    name_import_start,
)


def _registrar_required(request):
    if not user_may_register_names(user=request.user):
        raise PermissionDenied


def _own_import(request, pk) -> NameImport:
    # Another shliach's import does not exist for this one.
    return get_object_or_404(NameImport.objects.select_related("campaign", "order"), pk=pk, created_by=request.user)


@login_required
def import_new(request):
    _registrar_required(request)
    form = ImportForm(request.POST or None, request.FILES or None, initial={"campaign": request.GET.get("campaign")})
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload:
            source_name, content = upload.name, upload
        else:
            when = f"{timezone.localtime():%Y-%m-%d %H:%M}"
            source_name = _("Pasted %(when)s") % {"when": when}
            source_name, content = f"{source_name}.csv", form.cleaned_data["pasted"].encode()
        try:
            name_import = name_import_start(
                user=request.user, campaign=form.cleaned_data["campaign"], source_name=source_name, content=content
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            return redirect("registrations:import-detail", pk=name_import.pk)
    return render(request, "registrations/import_new.html", {"form": form})


@login_required
def import_detail(request, pk):
    _registrar_required(request)
    name_import = _own_import(request, pk)
    confirm_form = consent_form = None
    if name_import.status == ImportStatus.READY:
        choices = name_import_payment_choices(user=request.user)
        confirm_form = ConfirmForm(request.POST or None, payment_choices=choices)
        # The consent for the people registered, unless the grid asked it with the rows.
        if name_import.consent_given_at is None:
            consent_form = ConsentForm(request.POST or None)
        consent_given = consent_form is None or consent_form.is_valid()
        if request.method == "POST" and confirm_form.is_valid() and consent_given:
            try:
                name_import_confirm(
                    import_id=name_import.pk,
                    user=request.user,
                    payment_method=confirm_form.cleaned_data["payment_method"],
                    payment_reference=confirm_form.cleaned_data.get("payment_reference", ""),
                    consent=Consent.given_now() if consent_form is not None else None,
                )
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, problems in error.message_dict.items():
                        confirm_form.add_error(field if field in confirm_form.fields else None, problems)
                else:
                    confirm_form.add_error(None, error.messages)
            else:
                messages.info(request, _("Importing the names: they are all written, or none."))
                return redirect("registrations:import-detail", pk=name_import.pk)
    elif request.method == "POST":
        raise Http404
    context = {
        "name_import": name_import,
        "confirm_form": confirm_form,
        "consent_form": consent_form,
        "amount": order_amount_suggested(campaign=name_import.campaign, name_count=name_import.row_count),
        "progress": name_import_progress(name_import=name_import),
        "working": name_import.status in (ImportStatus.CHECKING, ImportStatus.IMPORTING),
    }
    return render(request, "registrations/import_detail.html", context)


@require_GET
@login_required
def import_status(request, pk):
    """What the progress bar polls."""
    _registrar_required(request)
    name_import = _own_import(request, pk)
    return JsonResponse(
        {
            "status": name_import.status,
            "rows_done": name_import_progress(name_import=name_import),
            "row_count": name_import.row_count,
        }
    )


def _referral_url(code, next_path=None):
    url = settings.SITE_URL + reverse("accounts:referral", kwargs={"code": code})
    return f"{url}?next={next_path}" if next_path else url


@login_required
def dashboard(request):
    if not user_is_shliach(user=request.user):
        raise PermissionDenied
    code = profile_for(user=request.user).referral_code
    referral_url = _referral_url(code)
    teams = shliach_teams(user=request.user)
    teams_owned = Counter(numbers.team.campaign_id for numbers in teams if numbers.team.owner_id == request.user.pk)
    campaigns = [
        {
            "campaign": campaign,
            "referral_url": _referral_url(code, reverse("order-buy", kwargs={"slug": campaign.slug})),
            # The data-entry grid (registrations); linked by path.
            "grid_path": f"/shliach/grid/{campaign.slug}/",
            # teams.services.team_create refuses more than this many of one owner in a campaign.
            "may_open_team": teams_owned[campaign.pk] < settings.TEAMS_PER_SHLIACH,
        }
        for campaign in campaign_list_active().order_by("name")
    ]
    context = {
        "totals": shliach_campaign_totals(user=request.user),
        "page": shliach_orders_page(user=request.user, number=request.GET.get("page")),
        "referral_url": referral_url,
        # Drawn here, never fetched from a QR service: the link stays between us and the shliach.
        "referral_qr": segno.make(referral_url, error="m").svg_data_uri(scale=5, border=2),
        "campaigns": campaigns,
        "import_path": "/shliach/import/",
        "teams": [
            {"numbers": numbers, "may_change": team_may_change(team=numbers.team, user=request.user)}
            for numbers in teams
        ],
        "teams_per_campaign": settings.TEAMS_PER_SHLIACH,
    }
    return render(request, "registrations/dashboard.html", context)
