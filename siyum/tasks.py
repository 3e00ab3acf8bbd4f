import logging

from celery import current_app, shared_task
from django.conf import settings

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def send_siyum_notices(siyum_id):
    """One batch of a siyum's notices, then the next batch after a pause (the throttle). Safe
    to run twice: what was sent is recorded, and one run at a time sends a siyum's notices."""
    eager = current_app.conf.task_always_eager
    while True:
        waiting = services.siyum_notices_send(siyum_id=siyum_id, limit=settings.SIYUM_NOTICE_BATCH_SIZE)
        if waiting == 0 or (waiting is None and eager):
            return
        # In-process (make run, no broker) the batches follow each other without recursion.
        if not eager:
            break
    # More to send, or another run holds the siyum (perhaps a worker that died, whose
    # connection the database has not yet dropped): look again after the pause.
    send_siyum_notices.apply_async((siyum_id,), countdown=settings.SIYUM_NOTICE_BATCH_INTERVAL)


@shared_task
def resume_siyum_notices():
    """Periodic sweeper: a siyum whose notices stopped going out is queued again."""
    for siyum_id in services.siyums_notices_stalled():
        logger.warning("The notices of siyum %s stalled; queued again", siyum_id)
        send_siyum_notices.delay(siyum_id)
