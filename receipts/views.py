from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django_ratelimit.decorators import ratelimit
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from allocation.models import Order
from allocation.selectors import order_visible_to
from core.decorators import staff_required
from core.tasks import enqueue_on_commit

from .accounts import accounts_report, month_current, month_parse
from .forms import AccountsReportForm, OrganisationForm
from .models import Organisation, Receipt, ReceiptKind
from .rendering import accounts_report_csv, accounts_report_filename, accounts_report_pdf, accounts_report_sections
from .selectors import campaigns_without_organisation, organisations_with_campaigns
from .services import organisation_save, receipt_draw, statement_draw, statement_link_read
from .tasks import send_statement


def _receipt_response(order: Order, kind: str):
    """The PDF of the order's receipt (or note), drawn now if its worker has not yet: 404 when
    the order has none (unpaid, or its campaign has no organisation)."""
    receipt = get_object_or_404(Receipt, order=order, kind=kind)
    receipt = receipt_draw(receipt_id=receipt.pk)
    prefix = "cancellation" if kind == ReceiptKind.CANCELLATION else "receipt"
    response = FileResponse(
        receipt.file.open("rb"), content_type="application/pdf", filename=f"{prefix}-{receipt.display_number}.pdf"
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- By the order's unguessable token (the donor's links) ------------------------------------


def receipt_download(request, token):
    return _receipt_response(get_object_or_404(Order, token=token), ReceiptKind.RECEIPT)


def receipt_cancellation_download(request, token):
    return _receipt_response(get_object_or_404(Order, token=token), ReceiptKind.CANCELLATION)


# --- For the order's creator and staff (API) ------------------------------------------------


class _OrderReceiptView(APIView):
    """404 for anyone but the order's creator and staff, as the order detail."""

    permission_classes = [AllowAny]
    kind = ReceiptKind.RECEIPT

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: None})
    def get(self, request, pk):
        return _receipt_response(get_object_or_404(order_visible_to(user=request.user), pk=pk), self.kind)


class OrderReceiptView(_OrderReceiptView):
    """The order's receipt (PDF), once paid, where its campaign has an organisation."""


class OrderReceiptCancellationView(_OrderReceiptView):
    """The note cancelling the order's receipt (PDF), once refunded."""

    kind = ReceiptKind.CANCELLATION


# --- Staff: the organisations ------------------------------------------------------------------


@staff_required
def organisations(request):
    return render(
        request,
        "receipts/organisations.html",
        {"organisations": organisations_with_campaigns(), "without": campaigns_without_organisation()},
    )


def _organisation_form(request, organisation: Organisation | None):
    form = OrganisationForm(request.POST or None, request.FILES or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            saved = organisation_save(organisation=form.instance, campaigns=list(form.cleaned_data["campaigns"]))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Organisation %(name)s saved.") % {"name": saved.name})
            return redirect("receipts:organisations")
    return render(request, "receipts/organisation_form.html", {"form": form, "organisation": organisation})


@staff_required
def organisation_new(request):
    return _organisation_form(request, None)


@staff_required
def organisation_edit(request, slug):
    return _organisation_form(request, get_object_or_404(Organisation, slug=slug))


# --- The donor's annual statement, by an emailed link (as "Do I have a letter?") -----------------


class StatementForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("The email address you gave with your donations"), max_length=254)
    year = forms.IntegerField(label=gettext_lazy("Year"), min_value=2000)

    def clean_year(self):
        year = self.cleaned_data["year"]
        if year > timezone.now().year:
            raise forms.ValidationError(_("That year has not come yet."), code="future_year")
        return year


def _lookups_per_hour(group, request):
    return f"{settings.LETTERS_LOOKUP_PER_HOUR}/h"


def _posted_email(group, request):
    return request.POST.get("email", "").strip().lower()


@ratelimit(group="receipts-statement:ip", key="ip", rate=_lookups_per_hour, method="POST")
@ratelimit(group="receipts-statement:email", key=_posted_email, rate=_lookups_per_hour, method="POST")
def statement_request(request):
    """The link is emailed to the address, never shown here, and the answer is the same whether
    or not the address gave anything that year. Limited per IP address, then per address, at the
    lookup's rate (LETTERS_LOOKUP_PER_HOUR)."""
    form = StatementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email, year = form.cleaned_data["email"], form.cleaned_data["year"]
        # Queued even when nothing will be found, so the answer takes as long either way.
        enqueue_on_commit(send_statement, email, year, translation.get_language())
        messages.success(
            request,
            _("If donations were made with %(email)s in %(year)s, we have sent a link to their statement there.")
            % {"email": email, "year": year},
        )
        return redirect("receipts-statement-request")
    return render(request, "receipts/statement_request.html", {"form": form})


@never_cache
def statement_download(request, signed):
    found = statement_link_read(signed=signed)
    if found is None:
        raise Http404
    email, year = found
    data = statement_draw(email=email, year=year, language=translation.get_language())
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="donations-{year}.pdf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- Staff: the treasurer's view -----------------------------------------------------------------

ACCOUNTS_PERMISSION = "receipts.view_accounts"


def accounts_required(view):
    """Staff with the permission to view the accounts; other staff are refused (403)."""

    @staff_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(ACCOUNTS_PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@never_cache
@accounts_required
def accounts(request):
    """Choose an organisation and a month (by default the first organisation, this month): the
    month's report, and its CSV and PDF. A bad choice answers 400 with the form's errors."""
    form = AccountsReportForm(request.GET or None)
    report = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            report = accounts_report(organisation=form.cleaned_data["organisation"], month=form.cleaned_data["month"])
        else:
            status = 400
    else:
        organisation = Organisation.objects.order_by("name").first()
        if organisation is not None:
            month = month_current(organisation=organisation)
            form = AccountsReportForm(initial={"organisation": organisation.slug, "month": f"{month:%Y-%m}"})
            report = accounts_report(organisation=organisation, month=month)
    context = {"form": form, "report": report, "sections": accounts_report_sections(report) if report else []}
    return render(request, "receipts/accounts.html", context, status=status)


def _accounts_report_of(slug: str, month: str):
    organisation = get_object_or_404(Organisation, slug=slug)
    try:
        first_day = month_parse(month)
    except ValueError:
        raise Http404 from None
    return accounts_report(organisation=organisation, month=first_day)


def _download(content, report, extension: str, content_type: str):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{accounts_report_filename(report, extension)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@accounts_required
def accounts_csv(request, slug, month):
    report = _accounts_report_of(slug, month)
    return _download(accounts_report_csv(report), report, "csv", "text/csv; charset=utf-8")


@accounts_required
def accounts_pdf(request, slug, month):
    report = _accounts_report_of(slug, month)
    return _download(accounts_report_pdf(report), report, "pdf", "application/pdf")
