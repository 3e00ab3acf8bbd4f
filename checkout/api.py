import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import referrer_for
from allocation.selectors import order_visible_to, order_with_letters
from allocation.services import Buyer, Consent
from core.security import OrderCreateThrottle
from payments.providers import ProviderUnavailable
from payments.services import OFFLINE_PERMISSION

from .serializers import OrderCreateSerializer, OrderSerializer
from .services import OFFLINE, order_checkout, order_size_check

logger = logging.getLogger(__name__)


def _requested_payment_method(data):
    payment = data.get("payment") if isinstance(data, dict) else None
    return payment.get("method") if isinstance(payment, dict) else None


class OrderCreateView(APIView):
    """Create an order. `offline` (permitted users) is paid and allocated at once; `stripe`
    (anyone) returns the PaymentIntent's client secret, and the letters appear once paid."""

    # Who may create an order depends on how it is paid, so the check is made in post().
    permission_classes = [AllowAny]
    # Without a token, RATELIMIT_ORDERS per address too, on the buy page's counter.
    throttle_classes = [*APIView.throttle_classes, OrderCreateThrottle]

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
                        {
                            "hebrew_name": "יוסף",
                            "parent_hebrew_name": "לאה",
                            "gender": "m",
                            "dedication": {"kind": "refuah_shleimah", "text": "מכל המשפחה"},
                            "listed": True,
                        },
                    ],
                    "payment": {"method": "offline", "reference": "receipt 118"},
                    "consent": True,
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
                    "consent": True,
                },
            ),
        ],
    )
    def post(self, request):
        if _requested_payment_method(request.data) == OFFLINE and not request.user.has_perm(OFFLINE_PERMISSION):
            raise PermissionDenied()  # before reading the names: 403, not 400
        names = request.data.get("names") if isinstance(request.data, dict) else None
        if isinstance(names, list):
            # order_checkout holds it; asked first, so that too many names are refused before
            # each is validated.
            try:
                order_size_check(user=request.user, name_count=len(names))
            except DjangoValidationError as error:
                raise ValidationError(error.message_dict) from error
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            checkout = order_checkout(
                campaign=data["campaign"],
                names=data["names"],
                buyer=Buyer(**(data.get("buyer") or {})),
                amount=data.get("amount"),
                user=request.user,
                registers=True,
                payment_method=data["payment"]["method"],
                payment_reference=data["payment"].get("reference", ""),
                start_card_payment=True,
                referred_by=referrer_for(request=request),
                team=data.get("team"),
                language=translation.get_language(),
                consent=Consent.given_now() if data["consent"] else None,
            )
        except DjangoPermissionDenied as error:
            raise PermissionDenied(*error.args) from error
        except (ImproperlyConfigured, ProviderUnavailable) as error:
            # No provider (nothing saved), or Stripe unreachable or erring once the order was
            # placed: that order stays pending, and expires unpaid as any order left unpaid.
            logger.warning("Card payment not started: %r", error)
            return Response(
                {"detail": _("Card payments are not available right now.")}, status=status.HTTP_503_SERVICE_UNAVAILABLE
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        # The order as placed (its campaign and team in hand); its names are read with their
        # letters and certificates in one query.
        order = checkout.order
        body = OrderSerializer(order, context={"request": request}).data
        if checkout.payment is not None:
            body["payment"] = {
                "provider": checkout.payment.provider,
                "client_secret": checkout.client_secret,
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            }
        return Response(body, status=status.HTTP_201_CREATED)


class OrderDetailView(generics.RetrieveAPIView):
    """An order with its names and letters: for its creator and staff; 404 for anyone else."""

    permission_classes = [AllowAny]
    serializer_class = OrderSerializer

    def get_queryset(self):
        return order_with_letters(order_visible_to(user=self.request.user))
