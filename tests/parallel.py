"""`make test` runs the suite in two processes (pytest-xdist): each has a PostgreSQL database of
its own (pytest-django names them test_<name>_gw0, _gw1, ...) and here a Redis database of its own,
so one process's queues, caches and rate-limit counters never meet the other's, nor do the
workers each starts. Loaded with `-p tests.parallel`, before Django reads REDIS_URL."""

import os
from urllib.parse import urlsplit, urlunsplit

worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... set by xdist before pytest starts
if worker and os.environ.get("REDIS_URL"):
    url = urlsplit(os.environ["REDIS_URL"])
    database = int(url.path.strip("/") or 0) + 1 + int(worker.removeprefix("gw"))
    os.environ["REDIS_URL"] = urlunsplit(url._replace(path=f"/{database}"))
