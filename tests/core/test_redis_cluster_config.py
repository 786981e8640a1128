"""config.redis_cluster: REDIS_CACHE_URL chooses the django-redis client; a bad URL stops start-up."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.redis_cluster import CLUSTER_CLIENT, SINGLE_CLIENT, cache_client_options


def test_a_single_redis_keeps_the_default_client():
    assert cache_client_options("redis://127.0.0.1:6379/3", failover_wait=5) == {
        "CLIENT_CLASS": SINGLE_CLIENT
    }


def test_a_cluster_url_gives_the_cluster_client_its_seeds_and_credentials():
    options = cache_client_options(
        "rediss-cluster://cache:s%40cret@10.0.0.5:7000,[::1]:7001", failover_wait=2.5
    )
    assert options == {
        "CLIENT_CLASS": CLUSTER_CLIENT,
        "CLUSTER_NODES": [("10.0.0.5", 7000), ("::1", 7001)],
        "CLUSTER_SSL": True,
        "CLUSTER_FAILOVER_WAIT": 2.5,
        "USERNAME": "cache",
        "PASSWORD": "s@cret",
    }


def test_a_cluster_url_without_credentials_sends_none():
    options = cache_client_options("redis-cluster://127.0.0.1:7000/0", failover_wait=0)
    assert options["CLUSTER_NODES"] == [("127.0.0.1", 7000)]
    assert options["CLUSTER_SSL"] is False
    assert "PASSWORD" not in options and "USERNAME" not in options


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis-cluster://", "names no node"),
        ("redis-cluster://127.0.0.1", "is not host:port"),
        ("redis-cluster://127.0.0.1:7000,127.0.0.1:http", "is not host:port"),
        ("redis-cluster://127.0.0.1:70000", "is not host:port"),
        ("redis-cluster://127.0.0.1:7000/2", "only database 0"),
        ("redis-cluster://127.0.0.1:7000?timeout=1", "no query"),
    ],
)
def test_a_bad_cluster_url_says_what_is_wrong(url, problem):
    with pytest.raises(ImproperlyConfigured, match=problem) as raised:
        cache_client_options(url, failover_wait=5)
    assert "REDIS_CACHE_URL" in str(raised.value)


def test_a_bad_url_never_shows_its_password():
    with pytest.raises(ImproperlyConfigured) as raised:
        cache_client_options("redis-cluster://user:topsecret@127.0.0.1", failover_wait=5)
    assert "topsecret" not in str(raised.value)


def test_a_negative_failover_wait_is_refused():
    with pytest.raises(ImproperlyConfigured, match="REDIS_CLUSTER_FAILOVER_WAIT"):
        cache_client_options("redis-cluster://127.0.0.1:7000", failover_wait=-1)
