"""Advisory locks: one worker at a time on a piece of work that rows alone cannot guard (a
task resumed while the first run is still alive, a sweeper racing a task)."""

from contextlib import contextmanager

from django.db import connections, router

# One namespace per kind of work, so the same object id in two kinds never shares a lock.
CERTIFICATES_ISSUE = 7301
CERTIFICATES_BOOKLET = 7302
SIYUM_NOTICES = 7303
PRIVACY_RETENTION = 7304


@contextmanager
def advisory_lock_try(*, model, namespace: int, object_id: int):
    """Yield whether this process holds the lock of (namespace, object_id); held until the block
    ends or the connection dies."""
    connection = connections[router.db_for_write(model)]
    key = namespace * 10**12 + object_id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def advisory_xact_lock(*, model, namespace: int, object_id: int) -> None:
    """Wait for the lock of (namespace, object_id) and hold it until the current transaction
    ends: work that must not run beside the holder's (erasing what a certificate prints while
    it is being drawn) waits for it, and the holder's next try finds it taken."""
    connection = connections[router.db_for_write(model)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [namespace * 10**12 + object_id])
