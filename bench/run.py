"""`make bench`: every benchmark in bench/, one after the other; each prints its own figures,
then one table of them all (the lines each bench reports with _steps.report_figure).

    .venv/bin/python tests/with_services.py .venv/bin/python bench/run.py [--write-docs] [name ...]

--write-docs writes the table, the date and the machine to docs/benchmarks.md.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _steps import FIGURE_PREFIX  # noqa: E402


def bench_run(script):
    """Run one bench, passing its output through; the figures it reported and whether it passed."""
    figures = []
    process = subprocess.Popen([sys.executable, "-u", str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    for line in process.stdout:
        if line.startswith(FIGURE_PREFIX):
            figures.append(json.loads(line[len(FIGURE_PREFIX) :]))
        else:
            sys.stdout.write(line)
            sys.stdout.flush()
    return figures, process.wait() == 0


def _value(value):
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(rows):
    """Markdown: readable in a terminal and in docs/benchmarks.md alike."""
    header = ["benchmark", "figure", "value", "unit", "ratio / target", "met"]
    lines = [header]
    for bench, figure in rows:
        ratio = f"{figure['ratio']:.2f}x" if figure.get("ratio") is not None else ""
        target = " / ".join(part for part in (ratio, figure.get("target") or "") if part)
        met = {True: "yes", False: "no", None: ""}[figure.get("met")]
        lines.append([bench, figure["name"], _value(figure["value"]), figure["unit"], target, met])
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(out)


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")  # fmt: skip
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))  # fmt: skip
    try:
        import psycopg2

        # The server's maintenance database: the one DATABASE_URL names may not exist (the benches
        # make their own).
        url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres")
        with psycopg2.connect(urlunsplit(url)) as connection, connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgres = cursor.fetchone()[0]
    except Exception as error:  # the table is still worth writing
        postgres = f"unknown ({error.__class__.__name__})"
    return {"cores (nproc)": os.cpu_count(), "memory": f"{memory_kib / 2**20:.1f} GiB", "CPU": cpu,
            "PostgreSQL": postgres, "Python": sys.version.split()[0]}  # fmt: skip


NOTES = """Reading the figures:

- The machine is small (2 cores) and may be shared; the benches' clients run on it too. With 200
  client threads on 2 cores, `load` measures the server's throughput, not a client's latency.
- `load`: 200 clients for 20 s on gunicorn (3 gthread workers x 8 threads, preloaded; DEBUG off
  and DEMO_PAYMENTS on), half buying through the API paid offline (3 names an order), half
  through the pages paid with the demo provider (5 requests an order), each order on a
  connection of its own. The ceiling
  replays the SQL statements the services issue for one order of each kind (captured once)
  straight from psycopg2 with 24 connections, the concurrency PostgreSQL sees from the server.
  The gap is the Python of each request (Django, DRF, the pages' templates) on 2 cores, not the
  database (docs/architecture.md, Benchmarks, has the arithmetic); the invariants (no position
  twice, no gap, every paid order whole) hold after every run.
- `imports`: the ratio sets the whole import (validate, store, pay, allocate) beside a bare COPY of
  the same rows; the absolute time is within its target.
- `receipts`: each order's receipt (drawn, stored, emailed) and each order's certificates, for the
  same orders of 3 names, each kind in a worker process of its own, per CPU-second of that
  process. Certificates are cheapest in large orders (batches of 50: see `certificates`).
"""


# What docs/benchmarks.md keeps below the table, written by hand: the diary of what was measured
# and tried. A rewrite of the table leaves it as it is.
DIARY_HEADING = "## Diary"


def docs_write(text, failed):
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    about = "\n".join(f"- {key}: {value}" for key, value in machine().items())
    path = ROOT / "docs" / "benchmarks.md"
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    diary = existing[existing.index(DIARY_HEADING) :] if DIARY_HEADING in existing else ""
    path.write_text(
        "# Benchmarks\n\n"
        "The latest figures of `make bench` (bench/run.py runs every file in bench/ not starting with\n"
        "`_`; each bench also prints its own, more detailed table). Rewrite this file with\n"
        "`.venv/bin/python tests/with_services.py .venv/bin/python bench/run.py --write-docs`.\n"
        "Ratios are measured side by side in the same run, so they travel between machines better\n"
        "than the absolute figures.\n\n"
        f"Run: {now}{' (some benches failed: their figures are missing)' if failed else ''}\n\n"
        f"Machine:\n\n{about}\n\n{text}\n\n{NOTES}" + (f"\n{diary}" if diary else ""),
        encoding="utf-8",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("only", nargs="*", help="bench names to run (default: all)")
    args = parser.parse_args()
    rows, failed = [], []
    for script in sorted(HERE.glob("*.py")):
        if script.name == Path(__file__).name or script.name.startswith("_"):
            continue
        if args.only and script.stem not in args.only:
            continue
        print(f"== {script.name}", flush=True)
        figures, passed = bench_run(script)
        rows.extend((script.stem, figure) for figure in figures)
        if not passed:
            failed.append(script.name)
    text = table(rows)
    print(f"\n== all figures\n{text}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    if args.write_docs:
        docs_write(text, failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
