import json
import logging

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.core import get_usage

from core.decorators import staff_required
from core.tasks import enqueue_on_commit

from .forms import AddressForm, ErasureForm
from .models import PrivacyAction
from .selectors import (
    address_clean,
    address_hash,
    personal_data_erased_before,
    personal_data_held,
    privacy_contact_email,
    privacy_log_recent,
    shredder_labels,
)
from .services import personal_data_erase, personal_data_export, personal_data_link_address
from .tasks import send_personal_data_link

logger = logging.getLogger(__name__)

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


# --- "Send me my data" ---------------------------------------------------------------------------


def _over_limit(request, *, group: str, key, setting: str) -> bool:
    """Count this request under `group` (django-ratelimit's counters, as core.security's limits;
    the key is hashed there too) at the rate the setting holds now. Redis unreachable: not
    counted, and not refused (the email could not be queued either)."""
    try:
        usage = get_usage(
            request, group=group, key=key, rate=lambda g, r: getattr(settings, setting), method="POST", increment=True
        )
    except Exception:
        logger.exception("Could not count a request for a person's data")
        return False
    return bool(usage and usage["should_limit"])


def self_export(request):
    """A person asks for their data: the link is emailed to the address, never shown here, and
    the answer is the same whether or not anything is held. Limited per IP address, then per
    address (counted only for a caller within its own limit, so nobody uses up another's)."""
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = address_clean(form.cleaned_data["email"])
        if _over_limit(request, group="privacy-export:ip", key="ip", setting="PRIVACY_EXPORT_PER_IP"):
            form.add_error(None, _("Too many requests from this address. Please try again later."))
            return render(request, "privacy/self_export.html", {"form": form}, status=429)
        hashed = address_hash(email)
        if not _over_limit(
            request, group="privacy-export:address", key=lambda g, r: hashed, setting="PRIVACY_EXPORT_PER_ADDRESS"
        ):
            # Queued even when nothing is held, so the answer takes as long either way; written in
            # the language the page was asked in.
            enqueue_on_commit(send_personal_data_link, email, translation.get_language())
        messages.success(
            request,
            _(
                "If we hold anything about %(email)s, we have sent a link to download it to that address. "
                "Please check your inbox."
            )
            % {"email": email},
        )
        return redirect("privacy:self-export")
    return render(request, "privacy/self_export.html", {"form": form})


@never_cache
@require_GET
def self_export_download(request, token):
    """The emailed link: the JSON of everything held about the address it was sent to, while the
    link is valid (PRIVACY_EXPORT_LINK_HOURS); logged as the person's own export."""
    try:
        email = personal_data_link_address(token=token)
    except signing.SignatureExpired:
        return render(request, "privacy/link_invalid.html", {"expired": True}, status=410)
    except signing.BadSignature:
        return render(request, "privacy/link_invalid.html", {"expired": False}, status=404)
    data = personal_data_export(email=email, action=PrivacyAction.SELF_EXPORT)
    return _json_download(data, stem="my-data")
