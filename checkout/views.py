import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.selectors import referrer_for
from allocation.forms import BuyerForm, ConsentForm, NameFormRules, NameFormSet
from allocation.models import Order, OrderStatus
from allocation.selectors import order_letters_describe
from allocation.services import (
    Buyer,
    Consent,
    OrderNamesInvalid,
    order_amount_suggested,
    order_expires_at,
    order_place_again,
)
from core.security import order_create_rate_limit
from payments.models import PaymentProvider, PaymentStatus
from payments.providers import ProviderUnavailable
from payments.services import order_sync_card_payments, payment_demo_complete, payment_start_card
from scrolls.models import Campaign
from teams.models import TEAM_SLUG_MAX_LENGTH
from teams.selectors import team_public

from .services import order_checkout

logger = logging.getLogger(__name__)

NAMES_PREFIX = "names"
# The session's key for the buyer's details that "add a name for someone who cannot" carries
# from a paid order to the buy page (in the session: never in a URL).
BUYER_PREFILL_SESSION_KEY = "checkout:buyer-prefill"


def _formset_with_one_more_row(data, campaign):
    """The no-JavaScript 'add a name' button: the same data with one more empty row."""
    data = data.copy()
    total_key = f"{NAMES_PREFIX}-TOTAL_FORMS"
    data[total_key] = str(min(int(data.get(total_key, 1) or 1) + 1, NameFormSet.max_num))
    return NameFormSet(data=data, prefix=NAMES_PREFIX, form_kwargs={"campaign": campaign})


# The blank forms' HTML by (NameFormRules, language). Crispy renders a blank buy page's three
# forms in several milliseconds, and the buy page is the busiest page there is; the HTML holds
# nothing of the request (no CSRF token, no values). A process's own dict: a deploy starts anew.
_blank_forms_html = {}


def _buy_forms_blank_html(campaign):
    key = (NameFormRules.of(campaign), translation.get_language())
    html = _blank_forms_html.get(key)
    if html is None:
        context = {
            "formset": NameFormSet(prefix=NAMES_PREFIX, form_kwargs={"campaign": campaign}),
            "buyer_form": BuyerForm(),
        }
        html = _blank_forms_html[key] = render_to_string("allocation/_buy_forms.html", context)
    return html


def _apply_service_errors(error, formset, buyer_form, filled_forms):
    """Put the service's refusal beside the field it concerns."""
    if isinstance(error, OrderNamesInvalid):
        for index, fields in error.errors_by_row.items():
            form = filled_forms[index]
            for field, messages in fields.items():
                form.add_error(field if field in form.fields else None, messages)
        return
    if not hasattr(error, "error_dict"):
        buyer_form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        if field == "names":  # of the names as a whole (how many): above them, with the formset's own
            formset.non_form_errors().extend(messages)
        else:
            buyer_form.add_error(field if field in buyer_form.fields else None, messages)


def _team_asked(request, campaign):
    """The team a buy button or a team's link credits (`?team=<slug>`, kept in the form); an
    unknown one, or one of another campaign, credits nobody rather than stopping the buyer."""
    slug = (request.POST.get("team") or request.GET.get("team") or "").strip()
    return team_public(slug=slug[:TEAM_SLUG_MAX_LENGTH], campaign=campaign) if slug else None


def order_buy(request, slug):
    campaign = get_object_or_404(Campaign, slug=slug, active=True)
    team = _team_asked(request, campaign)
    if request.method == "POST":
        buyer_form = BuyerForm(request.POST)
        consent_form = ConsentForm(request.POST)
        if "add_name" in request.POST:
            consent_form = ConsentForm(initial={"consent": request.POST.get("consent") == "on"})
            formset = _formset_with_one_more_row(request.POST, campaign)
        else:
            order_create_rate_limit(request)  # an order's attempt (not "add a name"), before its work
            formset = NameFormSet(request.POST, prefix=NAMES_PREFIX, form_kwargs={"campaign": campaign})
            consent_given = consent_form.is_valid()  # said beside its box, with the other fields' problems
            if formset.is_valid() and buyer_form.is_valid() and consent_given:
                filled_forms = [form for form in formset.forms if form.cleaned_data]
                names = [form.cleaned_data for form in filled_forms]
                buyer = buyer_form.cleaned_data
                try:
                    order = order_checkout(
                        campaign=campaign,
                        names=names,
                        buyer=Buyer(name=buyer["buyer_name"], email=buyer["buyer_email"], phone=buyer["buyer_phone"]),
                        amount=buyer["amount"],
                        user=request.user,
                        referred_by=referrer_for(request=request),
                        team=team,
                        language=translation.get_language(),
                        consent=Consent.given_now(),
                    ).order
                except ValidationError as error:
                    _apply_service_errors(error, formset, buyer_form, filled_forms)
                else:
                    return redirect("order-pay", token=order.token)
    else:
        # "Add a name for someone who cannot": the buyer's details, once, from the paid order.
        prefill = request.session.pop(BUYER_PREFILL_SESSION_KEY, None)
        prefill = prefill if prefill and prefill.get("campaign") == campaign.slug else None
        buyer_form = BuyerForm(initial=prefill)
        consent_form = ConsentForm()
        formset = NameFormSet(prefix=NAMES_PREFIX, form_kwargs={"campaign": campaign})
    context = {
        "campaign": campaign,
        "team": team,
        "formset": formset,
        "buyer_form": buyer_form,
        "consent_form": consent_form,
        "blank_forms_html": None if formset.is_bound or buyer_form.initial else _buy_forms_blank_html(campaign),
        "suggested_price": order_amount_suggested(campaign=campaign, name_count=1),
    }
    return render(request, "allocation/buy.html", context)


@never_cache
def order_done(request, token):
    order = get_object_or_404(Order.objects.select_related("campaign"), token=token)
    if order.status in (OrderStatus.PENDING, OrderStatus.CANCELLED):
        # The buyer came back from paying: ask the provider, so a late webhook delays nothing
        # (money that arrives for an expired order still pays it).
        order_sync_card_payments(order_id=order.pk, payment_intent=request.GET.get("payment_intent", ""))
        order.refresh_from_db()
    payment_failed = request.GET.get("redirect_status") == "failed"
    context = {
        "order": order,
        # Each name read with its letter and certificate (templates/allocation/done.html).
        "names": order_letters_describe(order=order, viewer=request.user, names_also=("certificate",)),
        "payment_failed": payment_failed,
        "expires_at": order_expires_at(order=order) if order.status == OrderStatus.PENDING else None,
    }
    return render(request, "allocation/done.html", context)


def order_pay(request, token):
    order = get_object_or_404(Order.objects.select_related("campaign"), token=token)
    if order.status != OrderStatus.PENDING:
        return redirect("order-done", token=order.token)
    try:
        payment, client_secret = payment_start_card(order_id=order.pk)
    except ImproperlyConfigured:
        return render(request, "payments/unavailable.html", {"order": order}, status=503)
    except ProviderUnavailable:
        logger.exception("Could not start a card payment for order %s", order.pk)
        return render(request, "payments/unavailable.html", {"order": order}, status=503)
    failed_before = order.payments.filter(status=PaymentStatus.FAILED).exists()
    context = {
        "order": order,
        "payment": payment,
        "failed_before": failed_before,
        "names": order.names.all(),
    }
    if payment.provider == PaymentProvider.DEMO:
        return render(request, "payments/pay_demo.html", context)
    context.update(
        {
            "client_secret": client_secret,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "return_url": request.build_absolute_uri(f"/orders/{order.token}/"),
        }
    )
    return render(request, "payments/pay_stripe.html", context)


@require_POST
def order_pay_demo(request, token):
    order = get_object_or_404(Order, token=token)
    payment = order.payments.filter(provider=PaymentProvider.DEMO, status=PaymentStatus.CREATED).order_by("-id").first()
    if payment is None:
        raise Http404
    try:
        payment = payment_demo_complete(payment_id=payment.pk, succeeded=request.POST.get("outcome") == "succeed")
    except ImproperlyConfigured:
        raise Http404 from None
    if payment.status == PaymentStatus.FAILED:
        messages.error(request, _("The payment was declined. Please try again."))
        return redirect("order-pay", token=order.token)
    return redirect("order-done", token=order.token)


@require_POST
def order_another(request, token):
    """Add a name for someone who cannot: the buy page of the same campaign, for the same buyer,
    whose details (from this paid order) the session carries to its form, never the URL."""
    order = get_object_or_404(Order.objects.select_related("campaign"), token=token)
    if order.status != OrderStatus.PAID or not order.campaign.active:
        return redirect("order-done", token=order.token)
    request.session[BUYER_PREFILL_SESSION_KEY] = {
        "campaign": order.campaign.slug,
        "buyer_name": order.buyer_name,
        "buyer_email": order.buyer_email,
        "buyer_phone": order.buyer_phone,
    }
    messages.info(request, _("Your details are filled in: write the name of the person this letter is for."))
    return redirect("order-buy", slug=order.campaign.slug)


@require_POST
def order_again(request, token):
    """An expired order's "start again": a new order with its names and buyer, to pay now."""
    order = get_object_or_404(Order.objects.select_related("campaign"), token=token)
    if order.status != OrderStatus.CANCELLED:
        return redirect("order-done", token=order.token)
    try:
        again = order_place_again(order=order)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("order-done", token=order.token)
    return redirect("order-pay", token=again.token)
