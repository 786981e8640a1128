"""Redis down is not an outage: the circuit (apps.core.circuit), the cache backend behind it
(apps.core.redis_cache) and each user of the cache falling back to the database.

"Down" is a port nothing listens on (127.0.0.1:6399, connection refused at once), so these
run without any Redis; "back again" needs the suite's Redis (REDIS_URL).
"""

import threading

import pytest
import redis
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core import caching
from apps.core.circuit import Circuit
from apps.core.ratelimit import rate_limit_hit
from apps.core.redis_cache import CacheUnavailable, ResilientRedisCache
from apps.core.signals import circuit_changed
from apps.notifications.models import Event
from apps.notifications.selectors import bell_state
from apps.notifications.services import notification_create
from tests.conftest import PASSWORD

DEAD = "redis://127.0.0.1:6399/0"


def resilient(location: str, **options) -> dict:
    return {
        "default": {
            "BACKEND": "apps.core.redis_cache.ResilientRedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "tempo-test-redis-down",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, **options},
        }
    }


@pytest.fixture
def events():
    """What circuits announced: (name, opened)."""
    seen: list[tuple[str, bool]] = []

    def listen(sender, name, opened, **kwargs):
        seen.append((name, opened))

    circuit_changed.connect(listen, dispatch_uid="tests.redis_down")
    yield seen
    circuit_changed.disconnect(dispatch_uid="tests.redis_down")


@pytest.fixture
def dead_cache(settings):
    """The default cache is a ResilientRedisCache on a port where nothing listens."""
    settings.CACHES = resilient(DEAD, RETRY_AFTER=60)
    cache.reset()
    yield cache
    cache.reset()


@pytest.fixture
def live_cache(settings, requires_redis):
    """The default cache is a ResilientRedisCache on the suite's Redis (``take_down``
    opens its circuit, the next operation probes)."""
    settings.CACHES = resilient(settings.REDIS_URL, RETRY_AFTER=3600)
    cache.reset()
    cache.clear()
    yield cache
    cache.reset()
    cache.clear()


def take_down(backend) -> None:
    """As if an operation had just failed: the circuit opens (for an hour)."""
    backend.circuit.failed(redis.ConnectionError("taken down by the test"))


def interval_over(backend) -> None:
    """The retry interval has passed: the next operation probes Redis."""
    backend.circuit._closed_until_probe = 0.0


# --- the circuit --------------------------------------------------------------------------


def test_a_circuit_opens_once_skips_lets_one_probe_through_and_closes(events):
    retry = {"after": 60.0}
    circuit = Circuit("test", retry_after=lambda: retry["after"])
    assert circuit.allows() and not circuit.is_open

    circuit.failed(OSError("refused"))
    circuit.failed(OSError("refused again"))
    assert circuit.is_open
    assert not circuit.allows() and not circuit.due()
    assert events == [("test", True)], "an opening is announced once, not per failure"

    retry["after"] = 0.0
    circuit.failed(OSError("due at once"))
    assert circuit.due()
    retry["after"] = 60.0
    assert circuit.allows(), "the first caller after the interval probes"
    assert not circuit.allows(), "only one caller probes per interval"

    circuit.succeeded()
    assert not circuit.is_open and circuit.allows()
    assert events == [("test", True), ("test", False)]
    circuit.succeeded()
    assert events == [("test", True), ("test", False)], "closing is announced once too"


def test_a_failed_probe_keeps_the_circuit_open_without_announcing_again(events):
    circuit = Circuit("test", retry_after=lambda: 0.0)
    circuit.failed(OSError("refused"))
    assert circuit.allows()
    circuit.failed(OSError("still refused"))
    assert circuit.is_open
    assert events == [("test", True)]


# --- the backend with Redis down ------------------------------------------------------------


def test_operations_on_a_dead_redis_answer_as_misses_and_no_ops(dead_cache, events):
    assert dead_cache.get("k", "default") == "default"
    assert dead_cache.get_many(["k", "j"]) == {}
    assert not dead_cache.set("k", 1)
    assert not dead_cache.add("k", 1)
    assert not dead_cache.delete("k")
    assert not dead_cache.has_key("k")
    with pytest.raises(CacheUnavailable):
        dead_cache.incr("k")
    with pytest.raises(ValueError):  # what Django's callers catch for a missing key
        dead_cache.decr("k")
    assert dead_cache.unreachable()
    assert events == [("cache", True)]


def test_while_open_no_operation_tries_redis(dead_cache, monkeypatch):
    dead_cache.get("k")
    assert dead_cache.unreachable()
    tried = []
    real = caches["default"]  # the backend of this thread

    def counting(*args, **kwargs):
        tried.append(args)
        raise AssertionError("Redis was tried while the circuit is open")

    monkeypatch.setattr(type(real.client._client), "get", counting)
    for _ in range(5):
        assert dead_cache.get("k", 7) == 7
    assert tried == []


def test_the_circuit_is_the_processs_not_the_threads(dead_cache):
    dead_cache.get("k")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(cache.unreachable()))
    thread.start()
    thread.join()
    assert seen == [True]


def test_errors_that_are_not_about_reaching_redis_are_raised(live_cache):
    raw = redis.Redis.from_url(caches["default"]._server)
    raw.rpush(live_cache.make_key("a-list"), "x")
    with pytest.raises(redis.ResponseError):
        live_cache.get("a-list")
    assert not live_cache.unreachable()


def test_a_bad_retry_after_is_refused():
    with pytest.raises(ValueError, match="RETRY_AFTER"):
        ResilientRedisCache(DEAD, {"OPTIONS": {"RETRY_AFTER": -1}})


# --- Redis back: nothing from before a lost write is served ------------------------------


def test_keys_whose_writes_were_lost_are_deleted_when_redis_answers_again(live_cache, events):
    live_cache.set("session", "logged in")
    live_cache.set("untouched", "kept")
    take_down(live_cache)
    live_cache.delete("session")  # lost: Redis is taken for down
    live_cache.set("other", "new")
    assert {key for key, _ in live_cache.lost_keys()} == {"session", "other"}
    interval_over(live_cache)

    # The first operation after the interval probes, and first deletes the suspect keys.
    assert live_cache.get("session") is None
    assert live_cache.get("untouched") == "kept"
    assert not live_cache.unreachable()
    assert live_cache.lost_keys() == set()
    assert events == [("cache", True), ("cache", False)]


def test_a_namespace_bump_lost_in_an_outage_still_invalidates_the_namespace(live_cache):
    namespace = "redisdown"
    assert caching.cached(f"{namespace}:x", lambda: "before", ttl=60, stale_ttl=60) == "before"
    take_down(live_cache)
    caching.namespace_bump(namespace)  # the write it follows must not fail
    interval_over(live_cache)
    assert caching.cached(f"{namespace}:x", lambda: "after", ttl=60, stale_ttl=60) == "after"
    assert caching.cached(f"{namespace}:x", lambda: "later", ttl=60, stale_ttl=60) == "after"


def test_a_namespace_without_a_version_key_does_not_revive_old_values(live_cache):
    namespace = "redisdown2"
    assert caching.cached(f"{namespace}:x", lambda: "old", ttl=60, stale_ttl=60) == "old"
    live_cache.delete(caching._version_key(namespace))
    assert caching.cached(f"{namespace}:x", lambda: "new", ttl=60, stale_ttl=60) == "new"


# --- each user of the cache -------------------------------------------------------------------


def test_cached_computes_without_waiting_for_a_lock_nobody_can_hold(dead_cache, monkeypatch):
    monkeypatch.setattr(caching.time, "sleep", lambda seconds: pytest.fail("waited for the lock"))
    calls = []
    for n in range(3):
        assert caching.cached("redisdown:y", lambda n=n: calls.append(n) or n, ttl=60, stale_ttl=60) == n
    assert calls == [0, 1, 2]
    body = caching.cached_json("redisdown:z", lambda: '{"a": 1}', ttl=60, stale_ttl=60)
    assert body.body == b'{"a": 1}'


def test_cache_statistics_of_an_outage_are_not_written(dead_cache):
    dead_cache.get("k")  # a request met the outage first
    caching.stats.count("redisdown", "miss")
    caching.stats.flush()
    assert dead_cache.lost_keys() == set()


def test_rate_limits_let_attempts_through_while_redis_is_down(dead_cache, caplog):
    for _ in range(5):
        assert rate_limit_hit(scope="test", key="k", limit=1, window=60).allowed
    assert "not counted" in caplog.text


@pytest.mark.django_db
def test_the_bell_falls_back_to_the_query(dead_cache, alice):
    notification_create(recipient=alice, event=Event.JOB_SUCCEEDED, title="Report ready", link="/reports/1/")
    with CaptureQueriesContext(connection) as queries:
        state = bell_state(user=alice)
    assert state["unread"] == 1
    assert state["latest"][0]["title"] == "Report ready"
    assert len(queries) >= 1


@pytest.fixture
def cached_db_sessions(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"


@pytest.mark.django_db
def test_login_pages_and_logout_work_while_redis_is_down(cached_db_sessions, client, alice, settings):
    # A session made while Redis was up.
    settings.CACHES = resilient(settings.REDIS_URL or DEAD, RETRY_AFTER=60)
    cache.reset()
    existing = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert existing.status_code == 302
    settings.CACHES = resilient(DEAD, RETRY_AFTER=60)
    cache.reset()
    try:
        assert client.get("/jobs/").status_code == 200, "the existing session still works"
        assert client.post("/accounts/logout/").status_code == 302
        assert client.get("/jobs/").status_code == 302, "logged out"
        again = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
        assert again.status_code == 302 and again["Location"] == "/"
        assert client.get("/jobs/").status_code == 200
        assert cache.unreachable()
    finally:
        cache.reset()


@pytest.mark.django_db
def test_a_logout_during_the_outage_is_not_undone_when_redis_returns(
    cached_db_sessions, live_cache, client, alice
):
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.get("/jobs/").status_code == 200  # the session is now in Redis
    cookie = client.cookies["sessionid"].value
    take_down(live_cache)
    assert client.post("/accounts/logout/").status_code == 302
    interval_over(live_cache)

    client.cookies["sessionid"] = cookie  # the old cookie, replayed after Redis is back
    assert client.get("/jobs/").status_code == 302
    assert not live_cache.unreachable()


@pytest.mark.django_db
def test_the_login_lockout_counts_in_the_database_while_redis_is_down(dead_cache, client, alice, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
