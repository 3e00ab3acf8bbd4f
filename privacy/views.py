import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.decorators import staff_required

from .forms import AddressForm, ErasureForm
from .models import PrivacyAction
from .selectors import (
    address_clean,
    personal_data_erased_before,
    personal_data_held,
    privacy_contact_email,
    privacy_log_recent,
    shredder_labels,
)
from .services import personal_data_erase, personal_data_export

ERASE_PERMISSION = "privacy.erase_personal_data"


def privacy_notice(request):
    """What is kept and why, what is erased on request, and how to ask: in the page's language."""
    context = {
        "version": settings.PRIVACY_NOTICE_VERSION,
        "contact_email": privacy_contact_email(),
        "retention_years": settings.PERSONAL_DATA_RETENTION_YEARS,
        "child_birth_days": settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS,
        "import_days": settings.IMPORT_FILES_KEPT_DAYS,
    }
    return render(request, "privacy/notice.html", context)


def _json_download(data: dict, *, stem: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2), content_type="application/json"
    )
    # The file's name says when, never whose (it may be kept in a downloads folder).
    response["Content-Disposition"] = f'attachment; filename="{stem}-{timezone.now():%Y%m%d-%H%M%S}.json"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _address_page(request, *, email: str, erasure_form=None, status=200):
    """The staff page about an address: what is held of each kind, any earlier erasure, the
    export's button and (with the permission) the erasure's form; the privacy log below."""
    email = address_clean(email)  # as it is looked up: lower case
    labels = shredder_labels()
    held = personal_data_held(email=email)
    if erasure_form is None and request.user.has_perm(ERASE_PERMISSION):
        erasure_form = ErasureForm(initial={"email": email})
    context = {
        "form": AddressForm(initial={"email": email}),
        "log": privacy_log_recent(),
        "labels": labels,
        "email": email,
        "held": [(labels.get(kind, kind), count) for kind, count in held.items()],
        "anything_held": any(held.values()),
        "erased_before": personal_data_erased_before(email=email),
        "erasure_form": erasure_form,
    }
    return render(request, "privacy/staff.html", context, status=status)


@never_cache
@staff_required
def staff_privacy(request):
    """Staff look an address up (POST: the address stays out of URLs and their logs)."""
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _address_page(request, email=form.cleaned_data["email"])
    context = {"form": form, "log": privacy_log_recent(), "labels": shredder_labels()}
    return render(request, "privacy/staff.html", context, status=400 if form.is_bound else 200)


@staff_required
@require_POST
def staff_export(request):
    """The JSON of everything held about the address, logged with the staff member."""
    form = AddressForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid email address."))
        return redirect("privacy:staff")
    data = personal_data_export(email=form.cleaned_data["email"], action=PrivacyAction.EXPORT, by=request.user)
    return _json_download(data, stem="personal-data")


@never_cache
@staff_required
@require_POST
def staff_erase(request):
    """Erase the address's data (with the permission), saying why; audited with the staff member."""
    if not request.user.has_perm(ERASE_PERMISSION):
        raise PermissionDenied
    form = ErasureForm(request.POST)
    if not form.is_valid():
        if "email" in form.errors:
            messages.error(request, _("Enter a valid email address."))
            return redirect("privacy:staff")
        return _address_page(request, email=form.cleaned_data["email"], erasure_form=form, status=400)
    email = form.cleaned_data["email"]
    try:
        log = personal_data_erase(email=email, reason=form.cleaned_data["reason"], by=request.user)
    except ValidationError as error:
        form.add_error(None, error.messages)
        return _address_page(request, email=email, erasure_form=form, status=400)
    labels = shredder_labels()
    done = ", ".join(f"{labels.get(kind, kind)}: {count}" for kind, count in log.counts.items() if count)
    messages.success(
        request,
        _("The data of %(email)s were erased (%(done)s). The Hebrew names stay in their letters.")
        % {"email": email, "done": done or _("nothing was held")},
    )
    return redirect("privacy:staff")
