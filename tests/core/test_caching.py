"""apps.core.caching: stale-while-revalidate, single flight, versioned namespaces, counters.

The concurrency tests use Redis (the cache every web process shares in production);
the others also run on the local-memory cache of the embedded default.
"""

import json
import threading
import time
import uuid
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.commerce import documents
from apps.core import caching
from apps.jobs.registry import kind_get
from tests.commerce.test_api import commerce_world


@pytest.fixture
def namespace():
    """A namespace of its own per test: counters and versions start from nothing."""
    return f"test{uuid.uuid4().hex[:12]}"


class Computation:
    """A compute function that counts its calls and takes a while, like a real query."""

    def __init__(self, value, seconds: float = 0.0) -> None:
        self.value = value
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)
        return self.value


def run_concurrently(count: int, func) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = func()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_fifty_concurrent_requests_for_an_expired_hot_key_compute_it_once(requires_redis, namespace):
    key = f"{namespace}:hot"
    caching.cached_put(key, "old", ttl=0, stale_ttl=60)
    compute = Computation("new", seconds=0.3)
    results = run_concurrently(50, lambda: caching.cached(key, compute, ttl=60, stale_ttl=60))
    assert compute.calls == 1
    # One caller recomputed; the 49 others were answered at once with the stale value.
    assert results.count("new") == 1
    assert results.count("old") == 49
    assert caching.cached(key, compute, ttl=60, stale_ttl=60) == "new"
    assert compute.calls == 1


def test_fifty_concurrent_requests_for_a_missing_key_compute_it_once(requires_redis, namespace):
    compute = Computation({"total": 42}, seconds=0.3)
    results = run_concurrently(50, lambda: caching.cached(f"{namespace}:cold", compute, ttl=60, stale_ttl=60))
    assert compute.calls == 1
    assert results == [{"total": 42}] * 50


def test_a_fresh_value_is_served_without_computing(namespace):
    compute = Computation(7)
    assert caching.cached(f"{namespace}:k", compute, ttl=60, stale_ttl=60) == 7
    assert caching.cached(f"{namespace}:k", compute, ttl=60, stale_ttl=60) == 7
    assert compute.calls == 1


def test_bumping_the_namespace_version_invalidates_its_keys(namespace):
    first = Computation("v1")
    assert caching.cached(f"{namespace}:k", first, ttl=60, stale_ttl=60) == "v1"
    caching.namespace_bump(namespace)
    second = Computation("v2")
    assert caching.cached(f"{namespace}:k", second, ttl=60, stale_ttl=60) == "v2"
    assert second.calls == 1
    # Another namespace is untouched by the bump.
    other = Computation("other")
    caching.cached(f"{namespace}x:k", other, ttl=60, stale_ttl=60)
    caching.namespace_bump(namespace)
    caching.cached(f"{namespace}x:k", other, ttl=60, stale_ttl=60)
    assert other.calls == 1


def test_a_failing_recompute_serves_the_stale_value(namespace):
    key = f"{namespace}:k"
    caching.cached_put(key, "old", ttl=0, stale_ttl=60)

    def broken():
        raise RuntimeError("database unavailable")

    assert caching.cached(key, broken, ttl=60, stale_ttl=60) == "old"


def test_a_value_past_its_stale_time_is_computed_again(namespace):
    key = f"{namespace}:k"
    caching.cached_put(key, "old", ttl=0, stale_ttl=1)
    cache.delete(caching._full_key(namespace, key))
    compute = Computation("new")
    assert caching.cached(key, compute, ttl=60, stale_ttl=60) == "new"
    assert compute.calls == 1


def test_caching_switched_off_computes_every_time(settings, namespace):
    settings.CACHE_ENABLED = False
    compute = Computation(1)
    for _ in range(3):
        caching.cached(f"{namespace}:k", compute, ttl=60, stale_ttl=60)
    assert compute.calls == 3


def test_cache_stats_count_hits_stale_hits_and_misses(namespace):
    key = f"{namespace}:k"
    compute = Computation(1)
    caching.cached(key, compute, ttl=60, stale_ttl=60)  # miss, computed
    caching.cached(key, compute, ttl=60, stale_ttl=60)  # hit
    caching.cached(key, compute, ttl=60, stale_ttl=60)  # hit
    caching.cached_put(key, 2, ttl=0, stale_ttl=60)
    caching.cached(key, compute, ttl=60, stale_ttl=60)  # stale, recomputed
    row = caching.cache_stats()[namespace]
    assert row["hit"] == 2
    assert row["stale"] == 1
    assert row["miss"] == 1
    assert row["computed"] == 2
    assert row["hit_ratio"] == 0.75


# --- Where the commerce API uses it ---------------------------------------------------------


@pytest.fixture
def commerce_data(db):
    return commerce_world()


@pytest.mark.django_db
def test_customer_summary_answers_304_to_a_matching_etag(alice_client, commerce_data):
    first = alice_client.get("/api/commerce/customers/1")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    again = alice_client.get("/api/commerce/customers/1", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    other = alice_client.get("/api/commerce/customers/1", headers={"if-none-match": '"something-else"'})
    assert other.status_code == 200
    assert other.json()["order_count"] == 5


@pytest.mark.django_db
def test_order_detail_answers_304_to_a_matching_etag(alice_client, commerce_data):
    first = alice_client.get("/api/commerce/orders/3")
    assert first.status_code == 200
    again = alice_client.get("/api/commerce/orders/3", headers={"if-none-match": first.headers["ETag"]})
    assert again.status_code == 304
    # Another order has another representation, so another tag.
    assert alice_client.get("/api/commerce/orders/4").headers["ETag"] != first.headers["ETag"]


@pytest.mark.django_db
def test_a_new_order_changes_the_cached_customer_summary(alice_client, commerce_data):
    before = alice_client.get("/api/commerce/customers/3").json()
    assert before["order_count"] == 0
    order = commerce_data["orders"][0]
    order.pk, order.customer = 100, commerce_data["customers"][2]
    order.save(force_insert=True)
    after = alice_client.get("/api/commerce/customers/3").json()
    assert after["order_count"] == 1


@pytest.mark.django_db
def test_a_cached_customer_summary_needs_no_query(alice_client, commerce_data):
    alice_client.get("/api/commerce/customers/2")
    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get("/api/commerce/customers/2").json()["order_count"] == 4
    # The session and the user may be read; the summary itself comes from the cache.
    assert not [query for query in queries if "commerce_" in query["sql"]]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/commerce/orders?limit=3", "/api/commerce/orders/9"])
def test_cached_order_reads_need_no_query_until_an_order_changes(alice_client, commerce_data, url):
    first = alice_client.get(url)
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get(url).content == first.content
    assert not [query for query in queries if "commerce_" in query["sql"]]
    newest = commerce_data["orders"][8]
    newest.total_price += 1
    newest.save()
    with CaptureQueriesContext(connection) as queries:
        changed = alice_client.get(url)
    assert [query for query in queries if "commerce_" in query["sql"]]
    assert changed.headers["ETag"] != first.headers["ETag"]


@pytest.mark.django_db
def test_order_list_answers_304_and_its_next_url_drops_unknown_parameters(alice_client, commerce_data):
    first = alice_client.get("/api/commerce/orders", {"limit": 2, "status": "F", "utm": "x"})
    assert first.status_code == 200
    # The page is cached by its validated query: a parameter the API ignores is not echoed.
    assert "utm" not in first.json()["next_url"]
    assert "status=F" in first.json()["next_url"]
    again = alice_client.get(
        "/api/commerce/orders", {"limit": 2, "status": "F"}, headers={"if-none-match": first.headers["ETag"]}
    )
    assert again.status_code == 304


@pytest.mark.django_db
def test_warm_cache_fills_the_customer_summaries(commerce_data, django_assert_num_queries):
    out = StringIO()
    call_command("warm_cache", "--limit", "2", stdout=out)
    assert "commerce.customer_summary: 2 keys" in out.getvalue()
    # Customer 1 has the most orders: its summary is served without a query.
    with django_assert_num_queries(0):
        assert json.loads(documents.customer_summary_json(customer_id=1).body)["order_count"] == 5


@pytest.mark.django_db
def test_warm_cache_rejects_an_unknown_warmer():
    with pytest.raises(CommandError, match="Unknown warmer nope"):
        call_command("warm_cache", "--only", "nope")


@pytest.mark.django_db
def test_the_warm_job_kind_runs_on_a_schedule():
    kind = kind_get("commerce.cache_warm")
    assert kind.every is not None
