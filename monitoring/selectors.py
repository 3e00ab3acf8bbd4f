"""What /metrics reads at scrape time. The business figures come from the database, the one
place every web process and worker writes to, so they are right however many there are: two
aggregates, grouped by campaign (orders.paid_at is indexed; scrolls keep their letters' count)."""

import json
import time
from functools import lru_cache

import redis
from django.conf import settings
from django.db.models import Count, Sum

from allocation.models import Order
from scrolls.models import Campaign, Scroll

# kombu's Redis transport: a queue is a list (new messages pushed on the left, taken from the
# right), and a message sent with a priority goes to a list of its own per step of priority.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)
DEFAULT_QUEUE = "celery"


def campaigns_figures() -> dict[str, dict[str, int]]:
    """Per campaign slug: orders ever paid (refunded ones included) and letters allocated."""
    figures = {
        slug: {"orders_paid": 0, "letters_allocated": 0} for slug in Campaign.objects.values_list("slug", flat=True)
    }
    paid = Order.objects.filter(paid_at__isnull=False).values_list("campaign__slug").annotate(count=Count("id"))
    for slug, count in paid.order_by():
        figures.setdefault(slug, {"orders_paid": 0, "letters_allocated": 0})["orders_paid"] = count
    letters = Scroll.objects.values_list("campaign__slug").annotate(count=Sum("letters_allocated"))
    for slug, count in letters.order_by():
        figures.setdefault(slug, {"orders_paid": 0, "letters_allocated": 0})["letters_allocated"] = count or 0
    return figures


def celery_queues() -> list[str]:
    """The queues the tasks are routed to (CELERY_TASK_ROUTES) and the default one."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route}
    return sorted(routed | {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", DEFAULT_QUEUE)})


@lru_cache(maxsize=2)
def _broker(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _published_at(message: bytes | None) -> float | None:
    if not message:
        return None
    try:
        published = json.loads(message)["headers"]["published_at"]
        return float(published)
    except (ValueError, KeyError, TypeError):
        return None  # queued before the header existed, or not a task of ours


def celery_queues_waiting() -> dict[str, tuple[int, float]] | None:
    """Per queue: the tasks waiting in the broker, and the age in seconds of the oldest (0 when
    none waits). One round trip to Redis, two commands per list whatever the lengths. None
    without a Redis broker (tasks run in-process)."""
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return None
    queues = celery_queues()
    lists = {queue: [queue] + [f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS] for queue in queues}
    pipeline = _broker(settings.CELERY_BROKER_URL).pipeline(transaction=False)
    for keys in lists.values():
        for key in keys:
            pipeline.llen(key)
            pipeline.lindex(key, -1)  # the oldest: consumers take from the right
    replies = iter(pipeline.execute())
    now = time.time()
    waiting = {}
    for queue, keys in lists.items():
        length, oldest = 0, None
        for _key in keys:
            length += next(replies)
            published = _published_at(next(replies))
            if published is not None:
                oldest = published if oldest is None else min(oldest, published)
        waiting[queue] = (length, max(0.0, now - oldest) if oldest is not None else 0.0)
    return waiting
