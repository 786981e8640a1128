"""The Sentinel broker without servers: its URL, the client it builds, its pull during a failover.

The failovers themselves, with real processes, are in tests/integration/test_broker_sentinel.py.
"""

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django_q.conf import Conf

from apps.jobs import broker, broker_sentinel
from apps.jobs.broker_sentinel import SentinelBroker
from config.redis_sentinel import SentinelConfig, sentinel_config

URL = "redis-sentinel://127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382/tempo/3"


def test_no_url_no_sentinel():
    assert sentinel_config("") is None


def test_url_names_sentinels_master_and_database():
    assert sentinel_config(URL) == SentinelConfig(
        sentinels=(("127.0.0.1", 26380), ("127.0.0.1", 26381), ("127.0.0.1", 26382)), master="tempo", db=3
    )
    assert sentinel_config(URL).credentials == {}


def test_url_credentials_ipv6_and_default_database():
    config = sentinel_config("redis-sentinel://tempo:s%40cret@[::1]:26379,sentinel-b:26379/main")
    assert config.sentinels == (("::1", 26379), ("sentinel-b", 26379))
    assert (config.master, config.db) == ("main", 0)
    assert config.credentials == {"password": "s@cret", "username": "tempo"}
    assert sentinel_config("redis-sentinel://:pw@h:1/m").credentials == {"password": "pw"}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:26380/tempo", "the scheme must be redis-sentinel"),
        ("redis-sentinel:///tempo", "names no sentinel"),
        ("redis-sentinel://127.0.0.1/tempo", "'127.0.0.1' is not host:port"),
        ("redis-sentinel://127.0.0.1:26380,:1/tempo", "':1' is not host:port"),
        ("redis-sentinel://127.0.0.1:70000/tempo", "is not host:port"),
        ("redis-sentinel://127.0.0.1:26380", "the path must be /<master name>"),
        ("redis-sentinel://127.0.0.1:26380/", "the path must be /<master name>"),
        ("redis-sentinel://127.0.0.1:26380/tempo/0/x", "the path must be /<master name>"),
        ("redis-sentinel://127.0.0.1:26380/tempo/zero", "the database 'zero' is not a number"),
        ("redis-sentinel://127.0.0.1:26380/tempo?db=1", "takes no query"),
    ],
)
def test_bad_url_says_what_is_wrong(url, problem):
    with pytest.raises(ImproperlyConfigured, match="JOBS_BROKER_SENTINEL_URL") as raised:
        sentinel_config(url)
    assert problem in str(raised.value)
    assert "expected redis-sentinel://" in str(raised.value)


def test_bad_url_error_does_not_show_the_password():
    with pytest.raises(ImproperlyConfigured) as raised:
        sentinel_config("redis-sentinel://:hunter2@127.0.0.1/tempo")
    assert "hunter2" not in str(raised.value)


@pytest.fixture
def sentinel_settings(settings, monkeypatch):
    settings.JOBS_BROKER_SENTINEL = sentinel_config(
        "redis-sentinel://:pw@127.0.0.1:26380,127.0.0.1:26381/tempo/2"
    )
    settings.JOBS_BROKER_TIMEOUT = 0.5
    monkeypatch.setattr(Conf, "BROKER_CLASS", "apps.jobs.broker_sentinel.SentinelBroker")
    monkeypatch.setattr(broker._local, "brokers", {}, raising=False)


def test_publisher_uses_the_sentinel_broker_on_the_primary_with_bounded_timeouts(sentinel_settings):
    client = broker.broker_for("high").connection

    assert isinstance(broker.broker_for("high"), SentinelBroker)
    pool = client.connection_pool
    assert (pool.service_name, pool.is_master) == ("tempo", True)
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["socket_timeout"] == pool.connection_kwargs["socket_connect_timeout"] == 0.5
    # One immediate retry for the primary; each sentinel asked once.
    assert pool.connection_kwargs["retry"].get_retries() == 1
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26380, 26381]
    assert {s.connection_pool.connection_kwargs["retry"].get_retries() for s in sentinels} == {0}
    assert {s.connection_pool.connection_kwargs["socket_timeout"] for s in sentinels} == {0.5}


class FailingConnection:
    def __init__(self, error: Exception | None, answer=None) -> None:
        self.error = error
        self.answer = answer
        self.waits: list[float] = []

    def blpop(self, key, timeout):
        self.waits.append(timeout)
        if self.error:
            raise self.error
        return self.answer


@pytest.fixture
def pulling_broker(sentinel_settings, monkeypatch):
    pauses = []
    monkeypatch.setattr(broker_sentinel.time, "sleep", pauses.append)
    pulling = SentinelBroker(list_key="default")
    pulling.pauses = pauses
    return pulling


@pytest.mark.parametrize(
    "error",
    [
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        redis.ResponseError("UNBLOCKED force unblock from blocking operation, instance state changed"),
    ],
)
def test_a_failed_pull_during_a_failover_pauses_and_the_pusher_goes_on(pulling_broker, error):
    pulling_broker.connection = FailingConnection(error)

    assert pulling_broker.dequeue() is None
    assert pulling_broker.pauses == [broker_sentinel.PULL_PAUSE]


def test_another_broker_error_still_reaches_django_q2(pulling_broker):
    pulling_broker.connection = FailingConnection(redis.ResponseError("WRONGTYPE"))

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        pulling_broker.dequeue()


def test_a_pull_waits_less_than_the_socket_timeout(pulling_broker):
    pulling_broker.connection = FailingConnection(None, answer=(b"django_q:default:q", b"message"))

    assert pulling_broker.dequeue() == [(None, b"message")]
    assert pulling_broker.connection.waits == [0.25]
    assert pulling_broker.pauses == []
