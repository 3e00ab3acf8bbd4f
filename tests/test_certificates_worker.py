"""A real Celery worker, killed (SIGKILL) in the middle of a large order's certificates: a
restarted worker gets the task back (it was never acknowledged) and the order ends with one
certificate per name and one email. The workers run as separate processes on the test Redis
against the test database, as in production."""

import os
import signal
import time

import pytest
from django.db.models import Sum

from allocation.services import order_fulfil
from certificates.models import Certificate, OrderCertificates

from .celery_workers import VISIBILITY_TIMEOUT, broker, wait_for, worker_processes  # noqa: F401 (fixture)
from .factories import make_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Four batches of 25 names (tens of milliseconds a certificate): the worker is still drawing
# when the first batch is committed, so the kill always lands mid-task.
NAMES = 100
# Below the size of a hundred certificates, so the email links them rather than attaching them,
# as it does for a large order in production (8 MB).
ATTACHMENTS_MAX_BYTES = 100_000


@pytest.fixture
def workers(tmp_path, settings):
    """Celery workers on the certificates queue, writing where this test's storage reads."""
    location = str(settings.STORAGES["certificates"]["OPTIONS"]["location"])
    with worker_processes(
        tmp_path,
        queue="certificates",
        env={"CERTIFICATES_ROOT": location, "CERTIFICATES_EMAIL_ATTACHMENTS_MAX_BYTES": str(ATTACHMENTS_MAX_BYTES)},
    ) as start:
        yield start


def test_a_worker_killed_mid_order_loses_no_certificate(campaigns, broker, workers, settings, tmp_path):
    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = True  # as in production (off for other tests)
    order = make_order(campaigns["idf"], NAMES)
    order_fulfil(order_id=order.pk)  # paid and allocated; the certificates task is queued on commit
    assert broker.llen("certificates") == 1
    issued = Certificate.objects.filter(name__order=order)

    first = workers("first")
    at_kill = wait_for(issued.count, timeout=60, what="the first batch of certificates")
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool process, mid-task
    first.wait()
    at_kill = max(at_kill, issued.count())
    assert 0 < at_kill < NAMES, "the worker was not killed in the middle of the order"
    # The task was taken and never acknowledged: Redis still holds it for redelivery.
    assert broker.hlen("unacked") == 1 and broker.llen("certificates") == 0

    time.sleep(VISIBILITY_TIMEOUT + 0.5)
    second = workers("second")
    state = OrderCertificates.objects.filter(order=order, completed_at__isnull=False)
    wait_for(state.exists, timeout=120, what="the restarted worker to finish the order")
    second.send_signal(signal.SIGTERM)

    names = order.names.count()
    assert issued.count() == names == NAMES
    assert issued.values("name").distinct().count() == NAMES
    storage = issued.first().file.storage
    for certificate in issued:
        assert storage.size(certificate.file.name) == certificate.size > 1000
    with issued.first().file.open("rb") as file:
        assert file.read(5) == b"%PDF-"
    assert issued.aggregate(total=Sum("size"))["total"] > ATTACHMENTS_MAX_BYTES
    # One email, once: too large to attach, a link to them all rather than attachments.
    mails = list((tmp_path / "mail").iterdir())
    assert len(mails) == 1
    assert f"/orders/{order.token}/certificates/booklet.pdf" in mails[0].read_text()
    assert broker.hlen("unacked") == 0
