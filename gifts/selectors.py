from allocation.models import Gift

from .services import gift_describe


def gift_by_token(*, token: str) -> Gift | None:
    return Gift.objects.select_related("name__order__campaign", "name__letter__scroll").filter(token=token).first()


def order_gifts(*, order) -> list[Gift]:
    """An order's gifts, for its page: one query, none when it gives no gift (Order.gives_gifts)."""
    if not order.gives_gifts:
        return []
    return list(Gift.objects.filter(name__order=order).select_related("name").order_by("id"))


__all__ = ["gift_by_token", "gift_describe", "order_gifts"]
