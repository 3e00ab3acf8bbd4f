"""Announcing what happened, to whoever listens, once it is true for everyone."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def announce_on_commit(signal, *, sender, **kwargs) -> None:
    """Send `signal` once the current transaction commits (at once outside one), so that no
    listener acts on work that is then rolled back. A listener that fails is logged and the
    others still hear it: what they would have done is left to the sweepers."""

    def send():
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error("%s failed on %s", receiver, kwargs, exc_info=result)

    transaction.on_commit(send)
