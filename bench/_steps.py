"""What the benchmarks share: each step runs in a fresh process (so one step's memory does not
hide in another's) against a throwaway database, and answers one line of JSON."""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def use_database(name):
    from django.conf import settings
    from django.db import connections

    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name


def database_drop(name):
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    print(json.dumps({"dropped": name}))


def step_run(script, step, *extra):
    """Run `script step *extra` in a fresh process; its JSON answer."""
    result = subprocess.run(
        [sys.executable, str(script), step, *map(str, extra)],
        capture_output=True, text=True, cwd=ROOT, env=os.environ, check=False,
    )  # fmt: skip
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"bench step {step} failed")
    if "--profile" in extra:
        sys.stderr.write(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


FIGURE_PREFIX = "FIGURE "


def report_figure(name, value, unit, *, ratio=None, target=None, met=None):
    """One figure for `make bench`'s table (bench/run.py collects these lines from each bench's
    output); the bench's own table stays as it is."""
    figure = {"name": name, "value": value, "unit": unit, "ratio": ratio, "target": target, "met": met}
    print(FIGURE_PREFIX + json.dumps(figure, ensure_ascii=False), flush=True)
