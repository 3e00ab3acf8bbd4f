from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from allocation.models import Order
from allocation.selectors import order_visible_to
from core.security import client_ip
from core.tasks import enqueue_on_commit

from .models import Certificate, OrderCertificates
from .selectors import certificate_by_code, certificate_verify_describe, order_all_certificates_issued
from .services import (
    BOOKLET_INLINE_MAX_NAMES,
    csv_lines,
    letters_lookup_rate_check,
    order_booklet_build,
    order_letters_csv_rows,
)
from .tasks import build_order_booklet, send_letters_lookup


def _pdf_response(field_file, filename):
    response = FileResponse(field_file.open("rb"), content_type="application/pdf", filename=filename)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Robots-Tag"] = "noindex"
    return response


def _certificate_response(order, code):
    certificate = get_object_or_404(Certificate, code=code, name__order=order)
    return _pdf_response(certificate.file, f"certificate-{certificate.code}.pdf")


def _booklet_ready(order) -> OrderCertificates | None:
    """The order's booklet if it is built; otherwise ask for it (at once for a small order,
    through the certificates queue for a large one) and return None."""
    state = OrderCertificates.objects.filter(order=order).first()
    if state is not None and state.booklet:
        return state
    if not order_all_certificates_issued(order=order):
        return None
    if order.names.count() <= BOOKLET_INLINE_MAX_NAMES:
        order_booklet_build(order_id=order.pk)
    elif cache.add(f"certificates:booklet-requested:{order.pk}", 1, timeout=600):
        enqueue_on_commit(build_order_booklet, order.pk)
    state = OrderCertificates.objects.filter(order=order).first()
    return state if state is not None and state.booklet else None


def _booklet_filename(order):
    return f"certificates-order-{order.pk}.pdf"


def _csv_response(request, order):
    rows = order_letters_csv_rows(order=order, viewer=request.user, request=request)
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="letters-order-{order.pk}.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


# --- By the order's unguessable token (the buyer's links) ----------------------------------


def _order_by_token(token):
    return get_object_or_404(Order.objects.select_related("campaign"), token=token, allocated_at__isnull=False)


def certificate_download(request, token, code):
    return _certificate_response(_order_by_token(token), code)


@never_cache
def order_booklet(request, token):
    order = _order_by_token(token)
    state = _booklet_ready(order)
    if state is not None:
        return _pdf_response(state.booklet, _booklet_filename(order))
    return render(request, "certificates/booklet_pending.html", {"order": order}, status=202)


def order_letters_csv(request, token):
    return _csv_response(request, _order_by_token(token))


# --- For the order's creator and staff (API: token or session authentication) --------------


class _OrderFileView(APIView):
    """404 for anyone but the order's creator and staff, as the order detail."""

    permission_classes = [AllowAny]

    def order(self, request, pk):
        return get_object_or_404(order_visible_to(user=request.user).filter(allocated_at__isnull=False), pk=pk)


class OrderCertificateFileView(_OrderFileView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: None})
    def get(self, request, pk, code):
        """One name's certificate (PDF)."""
        return _certificate_response(self.order(request, pk), code)


class OrderBookletView(_OrderFileView):
    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            202: OpenApiResponse(description="Being prepared: ask again in a minute."),
            404: None,
        }
    )
    def get(self, request, pk):
        """Every certificate of the order in one PDF, one page per name."""
        order = self.order(request, pk)
        state = _booklet_ready(order)
        if state is not None:
            return _pdf_response(state.booklet, _booklet_filename(order))
        return Response(
            {"detail": _("The booklet is being prepared: ask again in a minute.")},
            status=status.HTTP_202_ACCEPTED,
            headers={"Retry-After": "60"},
        )


class OrderLettersCsvView(_OrderFileView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, 404: None})
    def get(self, request, pk):
        """The order's names and letters, one row per name."""
        return _csv_response(request, self.order(request, pk))


# --- Public pages ----------------------------------------------------------------------------


def certificate_verify(request, code):
    certificate = certificate_by_code(code)
    if certificate is None:
        raise Http404
    if code != certificate.code:
        return redirect("certificate-verify", code=certificate.code, permanent=True)
    return render(request, "certificates/verify.html", certificate_verify_describe(certificate=certificate))


class LettersLookupForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Your email address"), max_length=254)


def letters_lookup(request):
    """ "Do I have a letter?": the links are emailed to the address, never shown here, and the
    answer is the same whether or not the address bought anything."""
    form = LettersLookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            letters_lookup_rate_check(ip=client_ip(request), email=email)
        except ValidationError as error:
            form.add_error(None, error)
            return render(request, "certificates/lookup.html", {"form": form}, status=429)
        # Queued even when nothing will be found, so the answer takes as long either way.
        # Written in the language the page was asked in.
        enqueue_on_commit(send_letters_lookup, email, translation.get_language())
        messages.success(
            request,
            _(
                "If letters were bought with %(email)s, we have sent the links to them to that address. "
                "Please check your inbox."
            )
            % {"email": email},
        )
        return redirect("letters-lookup")
    return render(request, "certificates/lookup.html", {"form": form})
