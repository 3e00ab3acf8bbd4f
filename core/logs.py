"""The request id: one per request (or the safe one the proxy sent), kept in a context variable,
added to every log record, and carried into the Celery tasks the request queues
(unitysefer/celery.py), so that one search finds all the work a request caused."""

import contextvars
import random
import re

# An id we accept from outside (a proxy's X-Request-ID): short, and nothing a log reader or a
# log parser could take for something else.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def request_id_new() -> str:
    """32 hex digits. Not a secret, only unique: Python's generator (reseeded in each forked
    worker) costs a tenth of uuid4's read of the system's random source, on every request."""
    return f"{random.getrandbits(128):032x}"


def request_id_accept(value: str | None) -> str:
    """The incoming id if it is safe to repeat in logs and headers, else a new one."""
    if value and SAFE_REQUEST_ID.fullmatch(value):
        return value
    return request_id_new()


def request_id_get() -> str | None:
    return request_id_var.get()


class RequestIdFilter:
    """Adds `request_id` (None outside a request or its tasks) to every record a handler emits."""

    def filter(self, record) -> bool:
        record.request_id = request_id_var.get()
        return True
