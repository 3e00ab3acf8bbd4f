"""The figures of /metrics, in Prometheus' format (prometheus-client).

Requests and their latencies are counted by each process (MetricsMiddleware): cheap, and a
scrape of one gunicorn worker shows that worker's, unless PROMETHEUS_MULTIPROC_DIR is set, where
prometheus-client keeps every worker's in files and a scrape adds them up. What must be right
across processes is read at scrape time instead (MonitoringCollector): the business figures from
the database, the queues from the broker, and the counts of what the apps announce from Redis.
"""

import logging
import os
import time

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY

from .counters import COUNTERS, counters_read
from .selectors import campaigns_figures, celery_queues_waiting

logger = logging.getLogger(__name__)

PREFIX = "unitysefer"

REQUEST_SECONDS = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer a request, by method, view (URL name) and status.",
    ["method", "view", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# What the counters of monitoring.counters are called, and say.
COUNTER_HELP = {
    "sweeper_catches": "Work the sweepers found undone and did or queued again, by sweeper.",
    "stripe_webhook_failures": "Stripe webhook requests answered with an error, by reason.",
    "imports_refused": "Spreadsheet imports refused, by step (check, or import after confirming).",
}


class MetricsMiddleware:
    """Times every request (near the top of the chain, so the others' work is in it)."""

    def __init__(self, get_response):
        self.get_response = get_response
        # The histogram of each (method, view, status), kept: labels() takes a lock each call.
        self.histograms = {}

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        method = request.method if request.method in METHODS else "other"  # the client's word: bounded
        key = (method, (match.view_name or "other") if match else "unmatched", response.status_code)
        histogram = self.histograms.get(key)
        if histogram is None:
            histogram = self.histograms[key] = REQUEST_SECONDS.labels(*key)
        histogram.observe(time.perf_counter() - started)
        return response


class MonitoringCollector:
    """Read at each scrape: the figures every process shares."""

    def collect(self):
        figures = campaigns_figures()
        orders = CounterMetricFamily(f"{PREFIX}_orders_paid", "Orders paid (ever), by campaign.", labels=["campaign"])
        letters = CounterMetricFamily(
            f"{PREFIX}_letters_allocated", "Letters allocated, by campaign.", labels=["campaign"]
        )
        for slug, values in sorted(figures.items()):
            orders.add_metric([slug], values["orders_paid"])
            letters.add_metric([slug], values["letters_allocated"])
        yield orders
        yield letters
        try:
            waiting = celery_queues_waiting()
        except Exception:
            logger.warning("/metrics: the broker could not be read", exc_info=True)
            waiting = None
        if waiting is not None:
            depth = GaugeMetricFamily(
                f"{PREFIX}_celery_queue_length", "Tasks waiting in the broker, by queue.", labels=["queue"]
            )
            age = GaugeMetricFamily(
                f"{PREFIX}_celery_queue_oldest_task_age_seconds",
                "How long the oldest task waiting in the queue has waited (0: none waits).",
                labels=["queue"],
            )
            for queue, (length, seconds) in waiting.items():
                depth.add_metric([queue], length)
                age.add_metric([queue], seconds)
            yield depth
            yield age
        try:
            counts = counters_read()
        except Exception:
            logger.warning("/metrics: the counters could not be read from Redis", exc_info=True)
            return
        for counter, (label, _) in COUNTERS.items():
            family = CounterMetricFamily(f"{PREFIX}_{counter}", COUNTER_HELP[counter], labels=[label])
            for value, count in counts[counter].items():
                family.add_metric([value], count)
            yield family


_shared = CollectorRegistry(auto_describe=False)
_shared.register(MonitoringCollector())


def metrics_text() -> bytes:
    """The exposition: this process's (or every worker's, in multiprocess mode) requests and
    process figures, then the shared figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_shared)
