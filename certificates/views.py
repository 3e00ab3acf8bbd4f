from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
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
from allocation.selectors import (
    LISTED_PAGE_SIZE,
    SEARCH_MAX_LENGTH,
    letter_public,
    listed_letters_find,
    order_visible_to,
    scroll_listed_letters,
)
from allocation.validators import hebrew_search_key, validate_visible_characters
from core.security import client_ip
from core.tasks import enqueue_on_commit
from scrolls.selectors import scroll_public, viewer_sees_exact_letter

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
            return render(
                request, "certificates/lookup.html", {"form": form, "name_form": ListedNameLookupForm()}, status=429
            )
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
    return render(request, "certificates/lookup.html", {"form": form, "name_form": ListedNameLookupForm()})


# --- Listed names (issue 19): a scroll's public list, a letter's page, the lookup by name ------


class _SearchInput(forms.TextInput):
    input_type = "search"


class ListedNameSearchForm(forms.Form):
    """What a name and its parent's name begin with, typed with or without final letters and
    niqqud (allocation.validators.hebrew_search_key)."""

    hebrew_name = forms.CharField(
        label=gettext_lazy("Hebrew name"),
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        validators=[validate_visible_characters],
        widget=_SearchInput(attrs={"dir": "rtl", "lang": "he"}),
    )
    parent_hebrew_name = forms.CharField(
        label=gettext_lazy("Parent's Hebrew name"),
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        validators=[validate_visible_characters],
        widget=_SearchInput(attrs={"dir": "rtl", "lang": "he"}),
    )


class ListedNameLookupForm(ListedNameSearchForm):
    """ "Do I have a letter?" by name: both names, whole."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = True
            field.widget = forms.TextInput(attrs={"dir": "rtl", "lang": "he"})


def scroll_names(request, slug, number):
    """The names listed publicly in a scroll, 50 a page, searchable; each linked to its letter's
    page (not where the campaign discloses only the parsha). Never an unlisted name."""
    scroll = scroll_public(slug=slug, number=number)
    form = ListedNameSearchForm(request.GET or None)
    search = form.cleaned_data if form.is_bound and form.is_valid() else {}
    letters = scroll_listed_letters(
        scroll_id=scroll.pk,
        hebrew_name=search.get("hebrew_name", ""),
        parent_hebrew_name=search.get("parent_hebrew_name", ""),
    )
    if form.is_bound and not form.is_valid():
        letters = letters.none()
    page = Paginator(letters, LISTED_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "certificates/scroll_names.html",
        {
            "scroll": scroll,
            "campaign": scroll.campaign,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "searched": bool(search.get("hebrew_name") or search.get("parent_hebrew_name")),
            "exact": viewer_sees_exact_letter(campaign=scroll.campaign, viewer=None),
        },
    )


def letter_detail(request, slug, number, position):
    """A letter's public page: where it is in the Torah and, when its name is listed, the name
    and its dedication."""
    scroll = scroll_public(slug=slug, number=number)
    described = letter_public(scroll=scroll, position=position)
    if described is None:
        raise Http404
    return render(request, "certificates/letter.html", {"scroll": scroll, "campaign": scroll.campaign, **described})


def letters_lookup_name(request):
    """ "Do I have a letter?" by a Hebrew name and a parent's name: the letters of listed names
    only, on the page; counted on the same limits as the lookup by email."""
    form = ListedNameLookupForm(request.POST or None)
    letters = None
    if request.method == "POST" and form.is_valid():
        name, parent = form.cleaned_data["hebrew_name"], form.cleaned_data["parent_hebrew_name"]
        try:
            # Counted as the lookup by email counts an address: the IP's counter is the same one.
            letters_lookup_rate_check(
                ip=client_ip(request), email=f"name:{hebrew_search_key(name)}|{hebrew_search_key(parent)}"
            )
        except ValidationError as error:
            form.add_error(None, error)
            context = {"form": LettersLookupForm(), "name_form": form}
            return render(request, "certificates/lookup.html", context, status=429)
        letters = listed_letters_find(hebrew_name=name, parent_hebrew_name=parent)
    return render(
        request,
        "certificates/lookup.html",
        {"form": LettersLookupForm(), "name_form": form, "letters": letters},
    )
