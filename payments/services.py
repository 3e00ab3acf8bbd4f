from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from allocation.models import Order, OrderStatus
from allocation.services import order_fulfil

from .models import Payment, PaymentProvider, PaymentStatus

OFFLINE_PERMISSION = "payments.record_offline_payment"


def payment_record_offline(*, order: Order, reference: str, recorded_by) -> Payment:
    """Record cash, a cheque or a transfer taken by a permitted user, then fulfil the order."""
    if not recorded_by.has_perm(OFFLINE_PERMISSION):
        raise PermissionDenied(_("You may not record offline payments."))
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("Give the receipt or transfer reference.")]})
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in (OrderStatus.PENDING, OrderStatus.CANCELLED):
            raise ValidationError({"order": [_("This order is already paid.")]})
        payment = Payment.objects.create(
            order=order,
            provider=PaymentProvider.OFFLINE,
            status=PaymentStatus.SUCCEEDED,
            amount=order.amount,
            currency=order.currency,
            reference=reference,
            recorded_by=recorded_by,
        )
    order_fulfil(order_id=order.pk)
    return payment
