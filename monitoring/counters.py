"""Counts kept in Redis (the shared cache), so that every web process and worker adds to the same
number and a scrape of any one of them reads it whole. Each increment is Redis's own INCR."""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

# Each counter's metric, its label, and the values the label takes (a scrape reads these keys).
COUNTERS = {
    "sweeper_catches": (
        "sweeper",
        ("paid_orders_without_letters", "certificates_queued_again", "receipts_queued_again"),
    ),
    "stripe_webhook_failures": ("reason", ("not_configured", "bad_signature", "not_an_event", "error")),
    "imports_refused": ("step", ("check", "import")),
}


def _key(counter: str, label: str) -> str:
    return f"monitoring:{counter}:{label}"


def counter_add(*, counter: str, label: str, amount: int = 1) -> None:
    """Add to a counter. Never raises: a count lost while Redis is down must not fail the work."""
    if label not in COUNTERS[counter][1]:
        raise ValueError(f"{counter} has no label {label!r}")
    key = _key(counter, label)
    try:
        cache.add(key, 0, timeout=None)
        cache.incr(key, amount)
    except Exception:
        logger.warning("Could not count %s", key, exc_info=True)


def counters_read() -> dict[str, dict[str, int]]:
    """Every counter's value by label (0 where none was counted); raises if Redis is down."""
    keys = {(counter, label): _key(counter, label) for counter, (_, labels) in COUNTERS.items() for label in labels}
    found = cache.get_many(list(keys.values()))
    read: dict[str, dict[str, int]] = {counter: {} for counter in COUNTERS}
    for (counter, label), key in keys.items():
        read[counter][label] = int(found.get(key, 0))
    return read
