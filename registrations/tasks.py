import logging

from celery import Task, shared_task
from django.core.cache import cache
from django.utils.translation import gettext as _

from core.tasks import enqueue_on_commit

from . import services

logger = logging.getLogger(__name__)

# The sweeper queues a stuck import again only after this long: it may be waiting its turn.
SWEEP_REQUEUE_SECONDS = 1800


class ImportTask(Task):
    acks_late = True
    autoretry_for = (Exception,)
    retry_backoff = True
    max_retries = 5

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Retries are spent: tell the shliach instead of leaving a progress bar that never ends.
        logger.error("Import %s failed: %r", args[0], exc)
        services.name_import_fail(import_id=args[0], reason=_("The import could not be completed; staff were told."))


@shared_task(base=ImportTask)
def check_name_import(import_id):
    services.name_import_check(import_id=import_id)


@shared_task(base=ImportTask)
def run_name_import(import_id):
    services.name_import_run(import_id=import_id)


@shared_task
def resume_name_imports():
    """Periodic sweeper: imports whose task was lost (broker down when it was queued, a worker
    killed) are queued again; both steps are safe to run twice."""
    for import_id, task in services.name_imports_stuck():
        if cache.add(f"name-import:swept:{import_id}", 1, timeout=SWEEP_REQUEUE_SECONDS):
            (check_name_import if task == "check" else run_name_import).delay(import_id)


def name_import_check_enqueue(*, import_id):
    enqueue_on_commit(check_name_import, import_id)


def name_import_run_enqueue(*, import_id):
    enqueue_on_commit(run_name_import, import_id)
