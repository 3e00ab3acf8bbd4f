"""Queuing Celery tasks so that a task never runs ahead of the data it reads."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(task, *args):
    """Queue a task now. If the broker is down the sweepers still find the work, so a failure to
    enqueue is logged, not raised. For work announced once its transaction committed."""
    try:
        task.delay(*args)
    except Exception:
        logger.exception("Could not enqueue %s%s", task.name, args)


def enqueue_on_commit(task, *args):
    """Queue a task once the current transaction commits (at once outside one), as `enqueue`."""
    transaction.on_commit(lambda: enqueue(task, *args))
