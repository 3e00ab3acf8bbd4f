from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import referrer_for
from allocation.models import Order, OrderChannel
from allocation.selectors import order_visible_to, order_with_letters
from allocation.services import Buyer, order_amount_suggested, order_place
from payments.providers import card_provider
from payments.services import (
    OFFLINE_PERMISSION,
    offline_payment_check,
    payment_record_offline,
    payment_start_card,
)

from .serializers import OrderCreateSerializer, OrderSerializer


def _requested_payment_method(data):
    payment = data.get("payment") if isinstance(data, dict) else None
    return payment.get("method") if isinstance(payment, dict) else None


class OrderCreateView(APIView):
    """Create an order. `offline` (permitted users) is paid and allocated at once; `stripe`
    (anyone) returns the PaymentIntent's client secret, and the letters appear once paid."""

    # Who may create an order depends on how it is paid, so the check is made in post().
    permission_classes = [AllowAny]

    @extend_schema(
        request=OrderCreateSerializer,
        responses={201: OrderSerializer},
        # Shown in the schema, and sent as is by tests/test_api_schemathesis.py: a real order.
        examples=[
            OpenApiExample(
                "Two names, paid offline",
                request_only=True,
                value={
                    "campaign": "idf",
                    "buyer": {"name": "Rivka Cohen", "email": "rivka@example.org"},
                    "names": [
                        {"hebrew_name": "מנחם מענדל", "parent_hebrew_name": "חיה מושקא", "gender": "m"},
                        {"hebrew_name": "שרה", "parent_hebrew_name": "רבקה", "gender": "f", "deceased": True},
                    ],
                    "payment": {"method": "offline", "reference": "receipt 118"},
                },
            ),
            OpenApiExample(
                "One name, by card",
                request_only=True,
                value={
                    "campaign": "idf",
                    "buyer": {"name": "Rivka Cohen", "email": "rivka@example.org"},
                    "names": [{"hebrew_name": "משה", "parent_hebrew_name": "מרים", "gender": "m"}],
                    "payment": {"method": "stripe"},
                },
            ),
        ],
    )
    def post(self, request):
        method = _requested_payment_method(request.data)
        if method == "offline" and not request.user.has_perm(OFFLINE_PERMISSION):
            raise PermissionDenied()
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["payment"]["method"] == "offline":
            # The limit is per order: the amount given, else the suggested price of its names.
            amount = data.get("amount")
            if amount is None:
                amount = order_amount_suggested(campaign=data["campaign"], name_count=len(data["names"]))
            try:
                offline_payment_check(user=request.user, amount=amount, currency=data["campaign"].currency)
            except DjangoValidationError as error:
                raise PermissionDenied(error.messages[0]) from error
        if data["payment"]["method"] == "stripe":
            try:
                card_provider()
            except ImproperlyConfigured:
                return Response(
                    {"detail": _("Card payments are not available right now.")},
                    status=status.HTTP_503_SERVICE_UNAVAILABLE,
                )
        user = request.user if request.user.is_authenticated else None
        try:
            with transaction.atomic():
                order = order_place(
                    campaign=data["campaign"],
                    names=data["names"],
                    buyer=Buyer(**(data.get("buyer") or {})),
                    created_by=user,
                    channel=OrderChannel.API if user else OrderChannel.ONLINE,
                    amount=data.get("amount"),
                    allow_custom_price=bool(user and user.is_staff),
                    referred_by=None if user else referrer_for(request=request),
                    # A buyer ordering for themselves reads in the language of their request; an
                    # order registered by a user takes that user's (accounts.selectors.order_language).
                    language="" if user else translation.get_language(),
                )
                if data["payment"]["method"] == "offline":
                    payment_record_offline(
                        order=order, reference=data["payment"]["reference"], recorded_by=request.user
                    )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error

        order = order_with_letters(Order.objects.select_related("campaign").filter(pk=order.pk)).get()
        body = OrderSerializer(order, context={"request": request}).data
        if data["payment"]["method"] == "stripe":
            payment, client_secret = payment_start_card(order_id=order.pk)
            body["payment"] = {
                "provider": payment.provider,
                "client_secret": client_secret,
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            }
        return Response(body, status=status.HTTP_201_CREATED)


class OrderDetailView(generics.RetrieveAPIView):
    """An order with its names and letters: for its creator and staff; 404 for anyone else."""

    permission_classes = [AllowAny]
    serializer_class = OrderSerializer

    def get_queryset(self):
        return order_with_letters(order_visible_to(user=self.request.user))
