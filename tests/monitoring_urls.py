"""The project's URLs and two views that exist only for tests/test_monitoring.py (its settings
point ROOT_URLCONF here): one that fails holding an order's personal data, one that logs and
queues a task."""

import logging

from django.http import HttpResponse
from django.urls import path

from allocation.models import Order
from core.tasks import enqueue
from scrolls.tasks import repair_progress
from unitysefer.urls import urlpatterns as project_urlpatterns

logger = logging.getLogger("tests.monitoring")


class OrderFailure(Exception):
    pass


def order_fail(request, token):
    order = Order.objects.get(token=token)
    logger.info("Failing for %s, %s, order %s", order.buyer_email, order.buyer_phone, order.token)
    raise OrderFailure(f"Could not write to {order.buyer_email} ({order.buyer_phone}) about {order.token}")


def log_and_enqueue(request):
    logger.info("Queuing the progress's repair")
    enqueue(repair_progress)
    return HttpResponse("queued")


urlpatterns = [
    path("orders/<str:token>/fail/", order_fail, name="test-order-fail"),
    path("test/log-and-enqueue/", log_and_enqueue, name="test-log-and-enqueue"),
    *project_urlpatterns,
]
