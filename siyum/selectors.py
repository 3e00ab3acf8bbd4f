from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from allocation.models import Reservation
from scrolls.models import Scroll, ScrollState


def _with_reservations(scrolls: QuerySet) -> QuerySet:
    """Scrolls with `honours` (every reservation, by position, with the name it was given to)."""
    return scrolls.prefetch_related(
        Prefetch(
            "reservations",
            queryset=Reservation.objects.select_related("name").order_by("position"),
            to_attr="honours",
        )
    )


def scrolls_awaiting_siyum() -> QuerySet:
    """Full scrolls, waiting for their siyum, each with `honours` and `honours_waiting` (the
    honour letters not given yet)."""
    return _with_reservations(
        Scroll.objects.filter(state=ScrollState.FULL)
        .select_related("campaign")
        .annotate(honours_waiting=Count("reservations", filter=Q(reservations__name__isnull=True)))
        .order_by("filled_at", "id")
    )


def scroll_awaiting_siyum(*, scroll_id: int) -> Scroll:
    return get_object_or_404(scrolls_awaiting_siyum(), pk=scroll_id)


def scrolls_with_honours() -> QuerySet:
    """The scrolls whose honour letters staff look after: open and full ones, with `honours`."""
    return _with_reservations(
        Scroll.objects.filter(state__in=[ScrollState.OPEN, ScrollState.FULL])
        .select_related("campaign")
        .order_by("campaign__name", "number")
    )
