import time
import uuid

import pytest
from django.contrib.auth.models import Permission, User
from django.test import override_settings
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import campaigns_seed

# One session-wide browser for every module (Playwright's sync API starts once per thread).
from .browser import browser, page  # noqa: E402, F401


@pytest.fixture(autouse=True, scope="session")
def passwords_hashed_cheaply():
    """Django's password hasher costs half a second of CPU a password by design (1,000,000 rounds
    of PBKDF2), and the tests make and sign in hundreds of users: MD5 instead, as Django's own
    documentation advises for tests. No test is about the hasher's strength."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def certificates_in_a_temporary_folder(settings, tmp_path_factory):
    """Certificates are drawn only where tests ask for them (tasks run in-process: every test
    that pays would otherwise draw them), and go to a throwaway folder, as do uploaded
    spreadsheets, receipts and teams' photos (each test process its own: file names follow ids, which two
    processes' databases give alike)."""
    settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED = False
    settings.STORAGES = {
        **settings.STORAGES,
        "certificates": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path_factory.getbasetemp() / "certificates"},
        },
        "imports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path_factory.getbasetemp() / "imports"},
        },
        "receipts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path_factory.getbasetemp() / "receipts"},
        },
        "teams": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path_factory.getbasetemp() / "teams"},
        },
    }


@pytest.fixture(autouse=True)
def progress_cache_from_this_test_only():
    """The cached progress lives in Redis (and a copy in this process), which is not rolled back
    with the database: each test starts without the figures a previous test left there."""
    from django.core.cache import cache

    from scrolls.selectors import PROGRESS_CACHE_KEYS, progress_local_forget
    from scrolls.services import PROGRESS_REFRESH_QUEUED_KEY

    keys = [*PROGRESS_CACHE_KEYS, PROGRESS_REFRESH_QUEUED_KEY]  # and a refresh left queued
    progress_local_forget()
    cache.delete_many(keys)
    yield
    progress_local_forget()
    cache.delete_many(keys)


@pytest.fixture(autouse=True)
def rate_limits_counted_for_this_test_only(settings):
    """Rate-limit counters live in Redis, which is not rolled back with the database: each test
    counts under keys of its own (the old ones expire with their window), so no test is limited
    by the requests of the tests before it."""
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex}:"


@pytest.fixture(autouse=True)
def language_of_this_test_only():
    """A request activates its language in the thread and leaves it there (Django resets it at
    the next request): the services a test calls directly after a Hebrew page would speak Hebrew."""
    yield
    translation.deactivate()


@pytest.fixture
def campaigns(db):
    """The seeded campaigns, without default honour letters, so that positions are counted from
    1 (honour letters and the siyum: tests/test_siyum.py, which seeds them with their defaults)."""
    campaigns_seed(
        campaigns=[{**data, "honour_letters_first": 0, "honour_letters_last": 0} for data in DEFAULT_CAMPAIGNS]
    )
    from scrolls.models import Campaign

    return {campaign.slug: campaign for campaign in Campaign.objects.all()}


def make_user(username, *, permissions=(), is_staff=False):
    user = User.objects.create_user(username, f"{username}@example.org", "a-long-test-password", is_staff=is_staff)
    for codename in permissions:
        app_label, code = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=code))
    return User.objects.get(pk=user.pk)  # fresh instance: permission cache empty


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def trusted_shliach(db):
    return make_user("trusted", permissions=["payments.record_offline_payment"])


@pytest.fixture
def plain_shliach(db):
    return make_user("plain")


@pytest.fixture
def staff_user(db):
    return make_user("staff", is_staff=True, permissions=["payments.record_offline_payment"])


# --- The text of the Torah ------------------------------------------------------------------
# Loading the MAM text is ~305,000 rows, so it is loaded once per session, committed, as an
# edition that is not the default: tests that do not ask for it never see it. Tests that ask for
# `default_edition` make it the default inside their own transaction, which is rolled back.
_text_load_seconds = []


def _mam_edition_ensure():
    from scrolls.models import TextEdition
    from scrolls.services import MAM_EDITION_SLUG, text_edition_load_package

    edition = TextEdition.objects.filter(slug=MAM_EDITION_SLUG).first()
    if edition is None:  # first use, or a transactional test flushed the database since
        started = time.perf_counter()
        edition, _ = text_edition_load_package()
        _text_load_seconds.append(time.perf_counter() - started)
    return edition


@pytest.fixture(scope="session")
def mam_edition_committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return _mam_edition_ensure()


@pytest.fixture
def default_edition(mam_edition_committed, db):
    """The MAM edition (304,801 letters), default for this test: open scrolls without letters
    move to it and new scrolls are written from it."""
    from scrolls.services import text_edition_make_default

    edition = _mam_edition_ensure()
    text_edition_make_default(edition=edition)
    edition.refresh_from_db()
    return edition


def pytest_terminal_summary(terminalreporter):
    if _text_load_seconds:
        shown = ", ".join(f"{seconds:.1f} s" for seconds in _text_load_seconds)
        terminalreporter.write_line(f"MAM text (304,801 letters) loaded into the test database in {shown}")
