"""Errors to Sentry (or any server that speaks its protocol) when SENTRY_DSN is set, without the
personal data of buyers, the names they register or the links they hold.

settings.py calls `sentry_init` at start-up; tests call it with a DSN of their own. Nothing here
imports Django's models: settings import it before the apps are loaded.

What leaves, and what does not:
- the SDK's data_collection (which supersedes send_default_pii=False) collects no user, no IP
  address, no cookies, no SQL parameters and no local variables of the stack frames (a view's
  locals hold the buyer's form);
- the request: its method, its URL with every path parameter replaced by its name
  (/orders/{token}/, /receipts/statement/{signed}/), no query string, no body, no cookies and
  only a few harmless headers;
- every other string of the event (the exception's message, log messages, breadcrumbs, the
  arguments of a Celery task) has email addresses, phone numbers, Hebrew words, long tokens,
  the request's path parameters and every value the request's body carried replaced.
"""

import re
from urllib.parse import urlsplit, urlunsplit

import sentry_sdk
from django.urls import Resolver404, resolve
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from core.logs import request_id_get

FILTERED = "[Filtered]"

EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[^\s@<>\"'(),;:]+")
# A run of digits, spaces, dots, dashes and brackets, perhaps after a +: a phone number when it
# holds seven digits or more (checked in _phone), so that years and small amounts stay.
PHONE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
# Hebrew letters and marks (names, their parents' names, dedications).
HEBREW = re.compile(r"[\u0590-\u05ff\ufb1d-\ufb4f]+")
# An order's link token, a signed link, a verification code: letters and digits mixed, long.
TOKEN = re.compile(r"(?<![A-Za-z0-9_-])(?=[A-Za-z_-]*\d)(?=[0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])")
# Request headers worth having, none of them personal (no Cookie, Authorization, X-Forwarded-For).
SAFE_HEADERS = {"host", "user-agent", "accept", "accept-language", "content-type", "content-length", "x-request-id"}
# Values too short to be anyone's name or address ("on", "he", "1").
SHORTEST_KNOWN_VALUE = 3


def _phone(match: re.Match) -> str:
    text = match.group(0)
    return FILTERED if sum(character.isdigit() for character in text) >= 7 else text


def text_scrub(text: str, *, known: tuple[str, ...] = ()) -> str:
    """The text without what could name or reach a person, or open their order."""
    for value in known:
        text = text.replace(value, FILTERED)
    text = EMAIL.sub(FILTERED, text)
    text = TOKEN.sub(FILTERED, text)
    text = PHONE.sub(_phone, text)
    return HEBREW.sub(FILTERED, text)


def _scrub(value, known):
    if isinstance(value, str):
        return text_scrub(value, known=known)
    if isinstance(value, dict):
        return {key: _scrub(item, known) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, known) for item in value]
    return value


def _strings(value):
    if isinstance(value, str):
        if len(value) >= SHORTEST_KNOWN_VALUE:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _url_scrub(url: str) -> tuple[str, tuple[str, ...]]:
    """The URL without its query, each path parameter by its name; and the parameters' values."""
    parts = urlsplit(url)
    path = parts.path
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    values = tuple(str(value) for value in (match.kwargs.values() if match else ()) if str(value))
    for name, value in match.kwargs.items() if match else ():
        if str(value):
            path = path.replace(str(value), "{" + name + "}")
    return urlunsplit((parts.scheme, parts.netloc, text_scrub(path), "", "")), values


def _request_scrub(request: dict) -> tuple[dict, tuple[str, ...]]:
    known = tuple(_strings(request.get("data")))
    scrubbed = {"method": request.get("method")}
    if request.get("url"):
        scrubbed["url"], path_values = _url_scrub(request["url"])
        known += path_values
    headers = request.get("headers") or {}
    scrubbed["headers"] = {name: value for name, value in headers.items() if name.lower() in SAFE_HEADERS}
    return scrubbed, known


def event_scrub(event, hint=None):
    """before_send and before_send_transaction: the event without personal data (see above)."""
    known: tuple[str, ...] = ()
    if isinstance(event.get("request"), dict):
        event["request"], known = _request_scrub(event["request"])
    # Longest first, so a value containing another is replaced whole.
    known = tuple(sorted(set(known), key=len, reverse=True))
    event.pop("user", None)
    for key in ("exception", "threads"):
        for value in (event.get(key) or {}).get("values", []):
            if isinstance(value.get("value"), str):
                value["value"] = text_scrub(value["value"], known=known)
            for frame in (value.get("stacktrace") or {}).get("frames", []):
                frame.pop("vars", None)
    for key in ("message", "logentry", "extra", "transaction"):
        if key in event:
            event[key] = _scrub(event[key], known)
    # Only their words: their ids and times are the SDK's own.
    breadcrumbs = event.get("breadcrumbs")
    for crumb in breadcrumbs.get("values", []) if isinstance(breadcrumbs, dict) else breadcrumbs or []:
        for key in ("message", "data"):
            if key in crumb:
                crumb[key] = _scrub(crumb[key], known)
    for span in event.get("spans") or []:
        for key in ("description", "data"):
            if key in span:
                span[key] = _scrub(span[key], known)
    request_id = request_id_get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def sentry_options(*, dsn: str, environment: str = "", traces_sample_rate: float = 0.0, release: str = "") -> dict:
    """The options of sentry_sdk.init, the same for the site, its workers and the tests."""
    return {
        "dsn": dsn,
        "environment": environment or None,
        "release": release or None,
        # What the SDK collects by itself (it supersedes send_default_pii=False, and is stricter):
        # no user, no cookies, a few headers, no query, no SQL parameters, no frame variables,
        # nothing of a queue's messages. The body is read to learn the values to scrub
        # elsewhere, then dropped (event_scrub).
        "data_collection": {
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "allowlist", "terms": sorted(SAFE_HEADERS)}},
            "http_bodies": ["incoming_request"],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "stack_frame_variables": False,
            "queues": False,
            "gen_ai": {"inputs": False, "outputs": False},
        },
        "max_request_body_size": "medium",
        "traces_sample_rate": traces_sample_rate,
        "before_send": event_scrub,
        "before_send_transaction": event_scrub,
        "integrations": [
            # The fewest spans: each costs every request a little (issue 22).
            DjangoIntegration(transaction_style="url", middleware_spans=False, signals_spans=False),
            CeleryIntegration(),
            LoggingIntegration(),
        ],
    }


def sentry_init(**kwargs) -> None:
    sentry_sdk.init(**sentry_options(**kwargs))
