"""Imports that cannot hurt the site (issue 17): each crafted file is checked as the imports
worker checks it (registrations.services.name_import_check, or the upload's own refusal), each in
a fresh process, for its time and the process's peak memory; and the genuine 200,000-name CSV
import of bench/imports.py runs side by side with the code before the limits: the committed tree
(`git archive HEAD`) and the same with the reader of the commit before them, each on a throwaway
database of its own.

    .venv/bin/python tests/with_services.py .venv/bin/python bench/run.py import_limits
    .venv/bin/python tests/with_services.py .venv/bin/python bench/import_limits.py [--before REV]

Targets: every crafted file refused in under 5 s with the process under 300 MB (an XLSX file of
too many rows is refused when the walk reaches the limit: counting its rows means parsing them);
the genuine import as fast as before (within 5%: the medians of three runs each, alternated).
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _steps import database_drop, peak_rss_mib, report_figure, step_run  # noqa: E402

NAMES = 200_000
SHORT_HEADER = ["hebrew_name", "parent_hebrew_name", "gender"]


def write(args):
    """The files, written in a process of their own (so that the memory it took to make them is
    never counted as a check's): (file name, what it is, whether it must be refused)."""
    print(json.dumps(crafted_files(Path(args.file))))


def crafted_files(storage: Path) -> list[tuple[str, str, bool]]:
    from bench.imports import write_csv
    from tests import xlsx_crafted as crafted

    header, names = SHORT_HEADER, [["משה", "שרה", "m"], ["רבקה", "לאה", "f"]]
    files = [
        ("bomb.xlsx", "zip bomb: shared strings of 600 MB", True,
         lambda: crafted.xlsx(sheet=crafted.sheet([header]), shared_strings=crafted.zip_bomb_strings(600_000_000))),
        ("strings.xlsx", "shared strings of 9 MB, empty ones (ratio ~15)", True,
         lambda: crafted.xlsx(sheet=crafted.sheet([header]), shared_strings=crafted.empty_strings(9_000_000))),
        ("styles.xlsx", "styles of 5 MB (openpyxl reads them whole)", True,
         lambda: crafted.xlsx(sheet=crafted.sheet([header, *names]),
                              styles=crafted.STYLES.replace("</styleSheet>", "<extLst>" + "<ext/>" * 1_000_000
                                                            + "</extLst></styleSheet>"))),
        ("parts.xlsx", "500,000 parts in the zip", True, lambda: crafted.many_parts(500_000)),
        ("dimension.xlsx", "sheet declaring A1:XFD1048576, two names", False,
         lambda: crafted.xlsx(sheet=crafted.sheet([header, *names], dimension="A1:XFD1048576"))),
        ("far.xlsx", "cells at XFD2 and A1048576", True,
         lambda: crafted.xlsx(sheet=crafted.sheet([header, names[0] + [None] * 16380 + ["x"]] + [None] * 1_048_573
                                                  + [["משה", "שרה", "m"]]))),
        ("rows.xlsx", f"XLSX of {NAMES + 1:,} names", "walk",
         lambda: crafted.xlsx(sheet=crafted.sheet([header] + [["משה", f"שרה {i}", "m"] for i in range(NAMES + 1)],
                                                  dimension=f"A1:C{NAMES + 2}"))),
        ("columns.xlsx", "XLSX of 60 columns", True,
         lambda: crafted.xlsx(sheet=crafted.sheet([header + [f"c{i}" for i in range(57)], *names]))),
        ("rows.csv", "CSV of 1,000,000 rows", True, None),
        ("large.csv", "CSV of 60 MB (over the upload limit)", True, None),
        ("worst-strings.xlsx", "largest shared strings accepted: 7.9 MB, empty ones", False,
         lambda: crafted.xlsx(sheet=crafted.sheet([header]), shared_strings=crafted.empty_strings(7_900_000))),
    ]  # fmt: skip
    for name, _what, _refused, make in files:
        if make:
            (storage / name).write_bytes(make())
    (storage / "rows.csv").write_bytes(b"hebrew_name,parent_hebrew_name,gender\n" + b"x,y,m\n" * 1_000_000)
    for index in range(6):  # a file of new names for each genuine import (no duplicates)
        write_csv(storage / f"names-{index}.csv", NAMES, index * NAMES)
    with open(storage / "large.csv", "wb") as out:
        out.write(b"hebrew_name,parent_hebrew_name,gender\n" + b"x,y,m\n" * 10_000_000)
    return [(name, what, refused) for name, what, refused, _make in files]


def setup_django(code: Path):
    """Django from `code` (this tree, or the one before the limits), on the given database."""
    sys.path.insert(0, str(code))
    os.chdir(code)  # Celery's Django fixup puts the working folder first on the path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unitysefer.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ["EMAIL_URL"] = "memorymail://"
    os.environ["REDIS_URL"] = ""  # what allocation queues goes nowhere: the import itself is measured
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()


def prepare(args):
    """A database for one tree: its migrations, the campaigns, a shliach; scrolls of 150,000
    letters, as bench/imports.py has them (the import spills into the next)."""
    from django.contrib.auth.models import Permission, User
    from django.db import connection

    from allocation.services import scroll_honours_before_resize, scroll_honours_default_create
    from scrolls.models import Campaign
    from scrolls.seed import DEFAULT_CAMPAIGNS
    from scrolls.services import campaigns_seed

    connection.settings_dict["TEST"]["NAME"] = args.database  # never a test run's database
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
    user = User.objects.create_user("bench-shliach", "bench@example.org", "bench-password")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["register_names", "record_offline_payment"]))
    for campaign in Campaign.objects.filter(slug__in=["idf", "sefardi"]):
        scroll = campaign.scrolls.get(number=1)
        scroll_honours_before_resize(scroll=scroll, total_letters=150_000)
        scroll.edition, scroll.total_letters = None, 150_000
        scroll.save(update_fields=["edition", "total_letters"])
        scroll_honours_default_create(scroll=scroll)
    print(json.dumps({"database": args.database}))


def _use(database):
    from _steps import use_database

    use_database(database)


def check(args):
    """One file as the site takes it: stored (the upload's size limit), then checked as the
    imports worker checks it."""
    _use(args.database)
    from django.contrib.auth.models import User
    from django.core.exceptions import ValidationError
    from django.core.files import File

    from registrations.services import name_import_check, name_import_create
    from scrolls.models import Campaign

    path = Path(args.file)
    started = time.perf_counter()
    try:
        with path.open("rb") as handle:
            name_import = name_import_create(
                user=User.objects.get(username="bench-shliach"), campaign=Campaign.objects.get(slug="idf"),
                source_name=path.name, content=File(handle, name=path.name),
            )  # fmt: skip
    except ValidationError as error:
        status, message = "refused (upload)", " ".join(error.messages)
    else:
        name_import = name_import_check(import_id=name_import.pk)
        problems = name_import.problems
        status, message = name_import.status, problems[0]["message"] if problems else ""
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss_mib": peak_rss_mib(),
                      "status": status, "message": message}))  # fmt: skip


def import_names(args):
    """bench/imports.py's measure: the command line's path (check, store, pay offline, allocate)."""
    _use(args.database)
    from django.contrib.auth.models import User
    from django.core.files import File

    from registrations.services import name_import_create, name_import_run
    from scrolls.models import Campaign

    path = Path(args.file)
    started = time.perf_counter()
    with path.open("rb") as handle:
        name_import = name_import_create(
            user=User.objects.get(username="bench-shliach"), campaign=Campaign.objects.get(slug="idf"),
            source_name=path.name, content=File(handle, name=path.name),
            payment_method="offline", payment_reference="bench",
        )  # fmt: skip
    name_import = name_import_run(import_id=name_import.pk)
    seconds = time.perf_counter() - started
    assert name_import.status == "imported", name_import.problems[:3]
    print(json.dumps({"seconds": seconds, "names": name_import.rows_done, "peak_rss_mib": peak_rss_mib()}))


def drop(args):
    database_drop(args.database)


def _git(*command, text=True):
    return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=text, check=True).stdout


def trees(revision: str, after: Path, before: Path) -> str:
    """The committed tree (HEAD: what others have under way in the working tree stays out) into
    `after`, and into `before` the same with the reader as it was before the limits (at
    `revision`, default the commit before the one that added them): the walk over the rows is
    where the limits cost, once per row. The commit compared with."""
    if not revision:
        added = _git(
            "log", "--diff-filter=A", "--format=%H", "--", "registrations/migrations/0002_name_import_attempts.py"
        )
        revision = f"{added.split()[-1]}^"
    commit = _git("rev-parse", "--short", revision).strip()
    for into in (after, before):
        with tarfile.open(fileobj=io.BytesIO(_git("archive", "--format=tar", "HEAD", text=False))) as tar:
            tar.extractall(into, filter="data")
    (before / "registrations" / "readers.py").write_bytes(
        _git("show", f"{commit}:registrations/readers.py", text=False)
    )
    return commit


def main(args):
    storage = tempfile.TemporaryDirectory(prefix="bench-import-limits-")
    codes = {tree: tempfile.TemporaryDirectory(prefix=f"bench-import-limits-{tree}-") for tree in ("after", "before")}
    os.environ["IMPORTS_ROOT"] = storage.name
    store = Path(storage.name)
    print("Writing the crafted files ...", flush=True)
    files = step_run(__file__, "write", "--file", store)
    code = {tree: Path(folder.name) for tree, folder in codes.items()}
    commit = trees(args.before, code["after"], code["before"])
    databases = {"after": "bench_import_limits", "before": "bench_import_limits_before"}
    for tree in ("after", "before"):
        step_run(__file__, "prepare", "--code", code[tree], "--database", databases[tree])
    results, genuine = [], {"after": [], "before": []}
    try:
        for name, what, must_refuse in files:
            result = step_run(__file__, "check", "--code", code["after"], "--database", databases["after"],
                              "--file", store / name)  # fmt: skip
            results.append((name, what, must_refuse, result))
            print(f"  {what}: {result['status']} in {result['seconds']:.2f} s, {result['peak_rss_mib']:.0f} MiB",
                  flush=True)  # fmt: skip
        for index, tree in enumerate(["before", "after"] * 3):  # alternated: the machine drifts
            result = step_run(__file__, "import", "--code", code[tree], "--database", databases[tree],
                              "--file", store / f"names-{index}.csv")  # fmt: skip
            genuine[tree].append(result)
            print(f"  {NAMES:,} names imported ({tree}): {result['seconds']:.1f} s", flush=True)
    finally:
        for tree in ("after", "before"):
            step_run(__file__, "drop", "--code", code["after"], "--database", databases[tree])
        storage.cleanup()
        for folder in codes.values():
            folder.cleanup()

    print()
    print(f"{'crafted file':<52} {'status':<17} {'time':>8} {'peak':>9}   target")
    print(f"{'-' * 52} {'-' * 17} {'-' * 8} {'-' * 9}   {'-' * 30}")
    targets = {True: "refused in < 5 s", "walk": "refused (the walk to the limit)", False: ""}
    for _name, what, expected, result in results:
        refused = result["status"].startswith("refused")
        print(f"{what:<52} {result['status']:<17} {result['seconds']:>6.2f} s {result['peak_rss_mib']:>5.0f} MiB   "
              f"{targets[expected]}{', ' if targets[expected] else ''}< 300 MiB")  # fmt: skip
        met = {True: refused and result["seconds"] < 5, "walk": refused, False: None}[expected]
        report_figure(f"{what}: {result['status']}", result["seconds"], "s", target=targets[expected], met=met)
        report_figure(f"{what}: peak memory", result["peak_rss_mib"], "MiB", target="< 300 MiB",
                      met=result["peak_rss_mib"] < 300)  # fmt: skip
    for name, _what, _must, result in results:
        print(f"  {name}: {result['message'][:150]}")
    after = statistics.median(result["seconds"] for result in genuine["after"])
    before = statistics.median(result["seconds"] for result in genuine["before"])
    ratio = after / before
    print()
    print(f"{f'{NAMES:,} names imported, before the limits ({commit})':<52} {before:>8.1f} s")
    print(f"{f'{NAMES:,} names imported, with the limits':<52} {after:>8.1f} s   < 30 s")
    print(f"{'  with / before':<52} {ratio:>8.2f}x   <= 1.05x")
    report_figure(f"{NAMES:,} names imported (validate, store, pay, allocate)", after, "s", target="< 30 s",
                  met=after < 30)  # fmt: skip
    report_figure(f"the same, with the limits / before them ({commit})", ratio, "x", ratio=ratio, target="<= 1.05x",
                  met=ratio <= 1.05)  # fmt: skip


def parse():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", default="main",
                        choices=["main", "write", "prepare", "check", "import", "drop"])  # fmt: skip
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--database")
    parser.add_argument("--file")
    parser.add_argument("--before", default="", help="the revision to compare with (default: before the limits)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    sys.path.insert(0, str(ROOT))  # tests.xlsx_crafted, bench.imports
    if arguments.step == "main":
        main(arguments)
    elif arguments.step == "write":
        write(arguments)
    else:
        setup_django(arguments.code)
        {"prepare": prepare, "check": check, "import": import_names, "drop": drop}[arguments.step](arguments)
