"""Progress: exact counts kept by allocation, served from the cache (Redis in the tests), refreshed
when an allocation commits, repaired from the letters; the embeddable widget."""

import json
import logging
import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils.html import escapejs
from rest_framework.test import APIClient

from allocation.models import Letter
from allocation.services import order_allocate, order_fulfil, order_mark_paid
from scrolls.models import Scroll
from scrolls.selectors import PROGRESS_API_CACHE_KEY, PROGRESS_CACHE_KEY, progress_local_forget
from scrolls.services import PROGRESS_REFRESH_QUEUED_KEY
from scrolls.signals import progress_refresh_wanted
from scrolls.tasks import refresh_progress, repair_progress

from .celery_workers import broker  # noqa: F401  (a fixture)
from .factories import make_order, shrink_open_scroll


def api_progress(slug):
    return {c["slug"]: c for c in APIClient().get("/api/v1/campaigns/").json()}[slug]


@pytest.mark.django_db
def test_the_campaigns_endpoint_queries_nothing_once_cached(campaigns, django_assert_num_queries):
    first = APIClient().get("/api/v1/campaigns/")
    assert cache.get(PROGRESS_CACHE_KEY) is not None
    with django_assert_num_queries(0):
        again = APIClient().get("/api/v1/campaigns/")
    assert again.status_code == 200 and again["Content-Type"] == "application/json"
    assert again.content == first.content
    idf = {c["slug"]: c for c in again.json()}["idf"]
    assert idf["scrolls_completed"] == 0 and idf["active_scroll"]["letters_allocated"] == 0


@pytest.mark.django_db
def test_each_process_keeps_its_copy_of_the_cache_briefly(campaigns, settings):
    settings.PROGRESS_CACHE_LOCAL_SECONDS = 60
    APIClient().get("/api/v1/campaigns/")  # a miss: built and cached
    first = APIClient().get("/api/v1/campaigns/").content  # read from Redis, and kept
    cache.set(PROGRESS_API_CACHE_KEY, b"[]")  # as a refresh in another process would
    assert APIClient().get("/api/v1/campaigns/").content == first
    settings.PROGRESS_CACHE_LOCAL_SECONDS = 0
    assert APIClient().get("/api/v1/campaigns/").content == b"[]"


@pytest.mark.django_db
def test_the_home_page_and_widget_query_nothing_once_cached(client, campaigns, django_assert_num_queries):
    client.get("/")
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 200
        assert client.get("/widget/idf/?lang=he").status_code == 200
        assert client.get("/widget/idf.js?lang=he").status_code == 200


@pytest.mark.django_db
def test_an_allocation_refreshes_the_cache_when_it_commits(campaigns, django_capture_on_commit_callbacks,
                                                           django_assert_num_queries):  # fmt: skip
    idf = campaigns["idf"]
    assert api_progress("idf")["active_scroll"]["letters_allocated"] == 0  # cached now
    order = make_order(idf, 3)
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk)
    # The figures were rebuilt on commit: reading them is still free.
    with django_assert_num_queries(0):
        scroll = api_progress("idf")["active_scroll"]
    assert (scroll["letters_allocated"], scroll["letters_remaining"]) == (3, 304805 - 3)
    assert scroll["percent_allocated"] == round(100 * 3 / 304805, 2)


@pytest.mark.django_db
def test_a_filled_scroll_counts_as_completed_and_the_next_is_open(campaigns, django_capture_on_commit_callbacks):
    idf = campaigns["idf"]
    shrink_open_scroll(idf, 5)
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=make_order(idf, 7).pk)
    progress = api_progress("idf")
    assert progress["scrolls_completed"] == 1
    assert (progress["active_scroll"]["number"], progress["active_scroll"]["letters_allocated"]) == (2, 2)


@pytest.mark.django_db(transaction=True)
def test_counts_equal_a_direct_count_of_letters_after_concurrent_allocation(campaigns):
    """Orders of two campaigns allocated at once from separate connections, each committing and
    refreshing the cache: what the cache says is what the letters say."""
    tomchei, idf = campaigns["tomchei-temimim"], campaigns["idf"]
    shrink_open_scroll(tomchei, 41)  # so the concurrent orders fill scrolls and open new ones
    orders = [make_order(tomchei if index % 2 else idf, 1 + index % 7) for index in range(24)]
    for order in orders:
        order_mark_paid(order_id=order.pk)
    api_progress("idf")  # cached before: every refresh must replace it
    barrier = threading.Barrier(len(orders))
    errors = []

    def allocate(order_id):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=60)
            order_allocate(order_id=order_id)
        except Exception as error:  # re-raised below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=allocate, args=(order.pk,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not any(thread.is_alive() for thread in threads)

    cached = cache.get(PROGRESS_CACHE_KEY)
    assert cached is not None, "the last refresh left no figures"
    for campaign in (tomchei, idf):
        scrolls = list(Scroll.objects.filter(campaign=campaign).order_by("number"))
        for scroll in scrolls:
            assert scroll.letters_allocated == Letter.objects.filter(scroll=scroll).count()
        open_scroll = scrolls[-1]
        shown = cached.by_slug[campaign.slug]
        assert shown["active_scroll"]["number"] == open_scroll.number
        assert shown["active_scroll"]["letters_allocated"] == Letter.objects.filter(scroll=open_scroll).count()
        assert shown["scrolls_completed"] == len(scrolls) - 1
    total_names = sum(order.names.count() for order in orders if order.campaign_id == tomchei.pk)
    assert Letter.objects.filter(scroll__campaign=tomchei).count() == total_names
    assert json.loads(cached.api_json) == APIClient().get("/api/v1/campaigns/").json()


@pytest.mark.django_db
def test_the_repair_task_recounts_the_letters_and_logs_drift(campaigns, caplog, django_capture_on_commit_callbacks):
    idf = campaigns["idf"]
    order_fulfil(order_id=make_order(idf, 4).pk)
    scroll = Scroll.objects.get(campaign=idf, state="open")
    # Drift, as a lost update or a hand edit would leave it (update() sends no signal).
    Scroll.objects.filter(pk=scroll.pk).update(letters_allocated=1)
    assert api_progress("idf")["active_scroll"]["letters_allocated"] == 1
    with caplog.at_level(logging.ERROR, logger="scrolls.services"):
        with django_capture_on_commit_callbacks(execute=True):
            repair_progress.delay()
    scroll.refresh_from_db()
    assert scroll.letters_allocated == 4
    assert "recorded 1 letters but holds 4" in caplog.text
    assert api_progress("idf")["active_scroll"]["letters_allocated"] == 4


@pytest.mark.django_db
def test_the_widget_is_framable_in_hebrew_and_english(client, campaigns):
    order_fulfil(order_id=make_order(campaigns["idf"], 2).pk)
    hebrew = client.get("/widget/idf/?lang=he")
    page = hebrew.content.decode()
    assert hebrew.status_code == 200 and "X-Frame-Options" not in hebrew
    assert '<html lang="he" dir="rtl">' in page and campaigns["idf"].name_he in page
    assert 'aria-valuenow="2"' in page and "/buy/idf/" in page
    english = client.get("/widget/idf/?lang=en").content.decode()
    assert '<html lang="en" dir="ltr">' in english and campaigns["idf"].name in english
    assert "2 of 304,805 letters taken" in english
    # Anything else is English; other pages still refuse to be framed.
    assert '<html lang="en"' in client.get("/widget/idf/?lang=xx").content.decode()
    assert client.get("/")["X-Frame-Options"] == "DENY"
    assert client.get("/widget/no-such-campaign/").status_code == 404


@pytest.mark.django_db
def test_the_widget_script_inserts_the_frame(client, campaigns, settings):
    settings.SITE_URL = "https://letters.example.org"
    response = client.get("/widget/beis-rivkah.js?lang=he")
    script = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert escapejs("https://letters.example.org/widget/beis-rivkah/?lang=he") in script
    assert "document.currentScript" in script and 'createElement("iframe")' in script
    assert client.get("/widget/no-such-campaign.js").status_code == 404


@pytest.mark.django_db
def test_a_refresh_leaves_the_work_to_the_one_already_waiting(campaigns):
    """Under load (bench/load.py) every allocation's refresh used to queue for its own rebuild.
    One that finds another refresh waiting for the lock returns: that one reads after taking
    the lock, so after this change. Without a waiter it rebuilds as before."""
    from django.db import connections

    from scrolls.services import _PROGRESS_REFRESH_WAITING_LOCK, campaign_progress_refresh

    waiter = connections.create_connection("default")  # another session, as another process
    try:
        with waiter.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_PROGRESS_REFRESH_WAITING_LOCK])
        cache.delete_many([PROGRESS_CACHE_KEY, PROGRESS_API_CACHE_KEY])
        campaign_progress_refresh(campaign_id=campaigns["idf"].pk)
        assert cache.get(PROGRESS_CACHE_KEY) is None  # left to the waiter
        with waiter.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_PROGRESS_REFRESH_WAITING_LOCK])
        campaign_progress_refresh(campaign_id=campaigns["idf"].pk)
        assert cache.get(PROGRESS_CACHE_KEY).by_slug["idf"]["slug"] == "idf"
    finally:
        waiter.close()


@pytest.mark.django_db(transaction=True)
def test_orders_arriving_together_queue_one_refresh_off_the_request_and_it_makes_the_figures_exact(
    campaigns,
    broker,  # noqa: F811  (the fixture)
):
    """The request that commits an allocation rebuilds nothing: it queues a refresh, unless one
    is queued and has not read yet. Until it runs (PROGRESS_REFRESH_SECONDS) the figures shown
    are the ones before; once it ran they are exact, and the next change queues the next one."""
    idf = campaigns["idf"]
    heard = []

    def listener(sender, **kwargs):
        heard.append(sender)

    progress_refresh_wanted.connect(listener, dispatch_uid="test-progress-refresh-wanted")
    try:
        assert api_progress("idf")["active_scroll"]["letters_allocated"] == 0  # cached now
        for _ in range(3):
            order_fulfil(order_id=make_order(idf, 2).pk)
        assert len(heard) == 1, "three orders, one refresh queued"
        assert cache.get(PROGRESS_REFRESH_QUEUED_KEY) is not None
        progress_local_forget()
        assert api_progress("idf")["active_scroll"]["letters_allocated"] == 0  # not rebuilt in the requests

        refresh_progress.apply()  # what the worker runs, PROGRESS_REFRESH_SECONDS later

        assert cache.get(PROGRESS_REFRESH_QUEUED_KEY) is None
        progress_local_forget()
        assert api_progress("idf")["active_scroll"]["letters_allocated"] == 6 == Letter.objects.count()
        order_fulfil(order_id=make_order(idf, 1).pk)
        assert len(heard) == 2, "a change after the refresh read queues the next one"
    finally:
        progress_refresh_wanted.disconnect(dispatch_uid="test-progress-refresh-wanted")
