from django.db.models import Prefetch, QuerySet

from .models import Name, Order


def order_visible_to(*, user) -> QuerySet:
    """Orders a user may read: staff see all, everyone else only the orders they created."""
    orders = Order.objects.select_related("campaign")
    if user.is_staff or user.has_perm("allocation.view_all_orders"):
        return orders
    if not user.is_authenticated:
        return orders.none()
    return orders.filter(created_by=user)


def order_with_letters(queryset: QuerySet) -> QuerySet:
    return queryset.prefetch_related(
        Prefetch(
            "names",
            queryset=Name.objects.select_related("letter__scroll").order_by("id"),
        )
    )
