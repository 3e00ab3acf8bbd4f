# syntax=docker/dockerfile:1
# UnitySefer production image: gunicorn serving unitysefer.wsgi on port 8000. The same image
# runs the Celery worker and beat and the one-shot migrations (see docker-compose.yml).
#
#   docker build -t unitysefer .
#   docker run --env-file .env -p 8000:8000 unitysefer
#
# Configuration is by environment variables only (.env.example lists them); .env is kept out
# of the image by .dockerignore. WEB_CONCURRENCY sets the number of gunicorn workers and
# GUNICORN_CMD_ARGS adds any other gunicorn option.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Fonts the certificates and reports are drawn with: culmus (STaM and Hebrew) and
# fonts-noto-core (Latin), and the text layout libraries WeasyPrint draws them with; libfribidi0
# for Pillow's raqm layout, which draws the share images' Hebrew right to left.
# chromium is only for the browser tests, so it is not installed.
# Versions follow the Debian release the base image tracks, with its security updates.
# PostgreSQL's client (pg_dump, pg_restore) for `manage.py backup` and `restore_check`: its
# major version must be at least the server's (postgres:16 in docker-compose.yml), newer than
# bookworm's 15, so it comes from PostgreSQL's own apt repository (postgresql-common's script,
# with the repository's key it ships). PG_CLIENT_MAJOR follows the server's major version.
ARG PG_CLIENT_MAJOR=16
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends culmus fonts-noto-core \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libfribidi0 \
       ca-certificates postgresql-common \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user with no login shell. It owns its home (gunicorn keeps its control
# socket there, in ~/.gunicorn) and the media folder; the code is read-only to it.
RUN groupadd --system --gid 10001 unitysefer \
    && useradd --system --uid 10001 --gid unitysefer --create-home \
       --home-dir /home/unitysefer --shell /usr/sbin/nologin unitysefer

WORKDIR /app

# Dependencies first, from production's lock file alone (exact versions, every file checked
# against its hash; `make lock` writes it from pyproject.toml), so that a change to the code does
# not reinstall them.
COPY requirements/base.txt requirements/base.txt
RUN pip install --require-hashes -r requirements/base.txt

COPY . .
# The project itself, without resolving anything again (--no-deps: the lock has it all). Settings
# find templates/ and static/ beside the unitysefer package (BASE_DIR), which a wheel does not
# carry, so the code runs from /app: PYTHONPATH puts /app ahead of site-packages for gunicorn,
# celery and manage.py alike.
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info
ENV PYTHONPATH=/app

# Static files are collected into the image (STATIC_ROOT=/app/staticfiles). The key only
# lets the settings load; nothing signed at build time is kept.
RUN SECRET_KEY=collectstatic-build-only-not-secret python manage.py collectstatic --noinput \
    && install -d -o unitysefer -g unitysefer /app/media /app/private /app/backups

USER 10001:10001

EXPOSE 8000
ENV WEB_CONCURRENCY=3
# gunicorn reads the worker count from WEB_CONCURRENCY; the heartbeat files go to /dev/shm
# so a slow overlay filesystem cannot get workers killed.
CMD ["gunicorn", "unitysefer.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--timeout", "60", \
     "--graceful-timeout", "30", \
     "--max-requests", "1000", "--max-requests-jitter", "100", \
     "--access-logfile", "-"]
