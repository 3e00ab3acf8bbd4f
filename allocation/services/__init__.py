"""Allocation's services, one module per concern; this package is their public face.

- names: what is recorded for a name, and corrections (name_clean, name_correct)
- placement: the one way an order is made (order_place)
- lifecycle: the one way an order's status changes (order_transition), and expiry
- letters: giving a paid order its letters, never twice (order_allocate), and the sweeper
- confirmation: the buyer's email with the link to their letters
- honours: honour letters reserved, named, released and given
"""

from .confirmation import order_confirmation_send, orders_confirmation_pending
from .honours import (
    reservation_cancel,
    reservation_create,
    reservation_give,
    reservation_update,
    scroll_honours_before_resize,
    scroll_honours_default_create,
    scroll_honours_default_positions,
    scroll_lock,
)
from .letters import order_allocate, order_allocate_or_enqueue, order_fulfil, orders_allocate_pending
from .lifecycle import (
    OrderTransitionRefused,
    order_cancel,
    order_expires_at,
    order_mark_paid,
    order_refund_record,
    order_transition,
    orders_expire_pending,
)
from .names import NAME_FIELDS, OrderNamesInvalid, campaign_today, name_clean, name_correct, name_correction_clean
from .placement import Buyer, Consent, order_amount_suggested, order_place, order_place_again, order_terms_change

__all__ = [
    "NAME_FIELDS",
    "Buyer",
    "Consent",
    "OrderNamesInvalid",
    "OrderTransitionRefused",
    "campaign_today",
    "name_clean",
    "name_correct",
    "name_correction_clean",
    "order_allocate",
    "order_allocate_or_enqueue",
    "order_amount_suggested",
    "order_cancel",
    "order_confirmation_send",
    "order_expires_at",
    "order_fulfil",
    "order_mark_paid",
    "order_place",
    "order_place_again",
    "order_refund_record",
    "order_terms_change",
    "order_transition",
    "orders_allocate_pending",
    "orders_confirmation_pending",
    "orders_expire_pending",
    "reservation_cancel",
    "reservation_create",
    "reservation_give",
    "reservation_update",
    "scroll_honours_before_resize",
    "scroll_honours_default_create",
    "scroll_honours_default_positions",
    "scroll_lock",
]
