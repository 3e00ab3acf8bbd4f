import logging
import os
import resource
from contextlib import contextmanager

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.core.cache import cache

from core.tasks import enqueue_on_commit

from . import card_services, services

logger = logging.getLogger(__name__)

# The sweeper queues a stuck import again only after this long: it may be waiting its turn.
SWEEP_REQUEUE_SECONDS = 1800


def _address_space() -> int | None:
    """This process's address space now, in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


@contextmanager
def _memory_limited(megabytes: int):
    """At most `megabytes` more address space while the block runs: an allocation beyond fails
    with MemoryError inside the task, rather than the kernel killing the worker (which the
    broker would give the task back to, again and again)."""
    used = _address_space()
    if not megabytes or used is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + megabytes * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class ImportTask(Task):
    """A step of an import, on the "imports" queue (CELERY_TASK_ROUTES): within its time limits
    and, in a worker, its memory limit. A limit reached fails the import, named, without retries
    (it would be reached again); a worker killed outright (the kernel's OOM killer, a restart)
    gives the task back, and the import's attempts stop it coming back forever."""

    acks_late = True
    autoretry_for = (Exception,)
    dont_autoretry_for = (SoftTimeLimitExceeded, MemoryError)
    retry_backoff = True
    max_retries = 5

    # The limits are the imports worker's (its settings, read as it starts), never stamped on the
    # message by whoever queued the step.
    @property
    def soft_time_limit(self):
        return settings.IMPORT_SOFT_TIME_LIMIT or None

    @property
    def time_limit(self):
        return settings.IMPORT_TIME_LIMIT or None

    def apply_async(self, args=None, kwargs=None, **options):
        options.setdefault("soft_time_limit", None)
        options.setdefault("time_limit", None)
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args, **kwargs):
        if self.request.is_eager:  # in the caller's process (`make run`, tests): not ours to limit
            return super().__call__(*args, **kwargs)
        with _memory_limited(settings.IMPORT_MEMORY_LIMIT_MB):
            return super().__call__(*args, **kwargs)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # A limit reached, or retries spent: tell the shliach instead of leaving a progress bar
        # that never ends. (At the hard time limit the worker's main process calls this.)
        logger.error("Import %s failed: %r", args[0], exc)
        if isinstance(exc, (SoftTimeLimitExceeded, TimeLimitExceeded)):
            cause = "time"
        else:
            cause = "memory" if isinstance(exc, MemoryError) else "error"
        services.name_import_fail(import_id=args[0], cause=cause)


@shared_task(base=ImportTask)
def check_name_import(import_id):
    services.name_import_check(import_id=import_id)


@shared_task(base=ImportTask)
def run_name_import(import_id):
    services.name_import_run(import_id=import_id)


@shared_task
def resume_name_imports():
    """Periodic sweeper: imports whose task was lost (broker down when it was queued, a worker
    killed) are queued again; both steps are safe to run twice, and each gives up after
    IMPORT_MAX_ATTEMPTS starts."""
    for import_id, task in services.name_imports_stuck():
        if cache.add(f"name-import:swept:{import_id}", 1, timeout=SWEEP_REQUEUE_SECONDS):
            (check_name_import if task == "check" else run_name_import).delay(import_id)


@shared_task
def delete_expired_card_photos():
    """Daily: the photos of cards saved more than CARD_PHOTOS_KEPT_DAYS ago are deleted (the cards
    and their orders stay). Safe to run twice: a photo already deleted is not looked at again."""
    card_services.card_photos_delete_expired()


def name_import_check_enqueue(*, import_id):
    enqueue_on_commit(check_name_import, import_id)


def name_import_run_enqueue(*, import_id):
    enqueue_on_commit(run_name_import, import_id)
