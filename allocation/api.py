from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.services import OFFLINE_PERMISSION, payment_record_offline

from .models import OrderChannel
from .selectors import order_visible_to, order_with_letters
from .serializers import OrderCreateSerializer, OrderSerializer
from .services import Buyer, order_create


def _requested_payment_method(data):
    payment = data.get("payment") if isinstance(data, dict) else None
    return payment.get("method") if isinstance(payment, dict) else None


class OrderCreateView(APIView):
    # Who may create an order depends on how it is paid, so the check is made in post().
    permission_classes = [AllowAny]

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer})
    def post(self, request):
        if _requested_payment_method(request.data) == "offline" and not request.user.has_perm(
            OFFLINE_PERMISSION
        ):
            raise PermissionDenied()
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        buyer = data.get("buyer") or {}
        try:
            with transaction.atomic():
                order = order_create(
                    campaign=data["campaign"],
                    names=data["names"],
                    buyer=Buyer(**buyer),
                    created_by=request.user,
                    channel=OrderChannel.API,
                    amount=data.get("amount"),
                    allow_custom_price=request.user.is_staff,
                )
                payment_record_offline(
                    order=order, reference=data["payment"]["reference"], recorded_by=request.user
                )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        order = order_with_letters(order_visible_to(user=request.user)).get(pk=order.pk)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailView(generics.RetrieveAPIView):
    """An order with its names and letters: for its creator and staff; 404 for anyone else."""

    permission_classes = [AllowAny]
    serializer_class = OrderSerializer

    def get_queryset(self):
        return order_with_letters(order_visible_to(user=self.request.user))
