"""The shared rate limiter: counts per scope and key, refuses past the limit, fails open."""

import pytest
from django.core.cache import cache

from apps.core import ratelimit
from apps.core.ratelimit import rate_limit_hit, rate_limit_peek, rate_limit_reset


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def test_attempts_past_the_limit_are_refused_with_the_seconds_to_wait():
    results = [rate_limit_hit(scope="t", key="alice", limit=3, window=60) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[-1].count == 4
    assert 1 <= results[-1].retry_after <= 60


def test_keys_and_scopes_are_counted_apart():
    for _ in range(2):
        rate_limit_hit(scope="t", key="alice", limit=2, window=60)
    assert not rate_limit_hit(scope="t", key="alice", limit=2, window=60).allowed
    assert rate_limit_hit(scope="t", key="bob", limit=2, window=60).allowed
    assert rate_limit_hit(scope="other", key="alice", limit=2, window=60).allowed


def test_peek_does_not_count_and_reset_forgets():
    rate_limit_hit(scope="t", key="k", limit=1, window=60)
    assert not rate_limit_peek(scope="t", key="k", limit=1, window=60).allowed
    assert rate_limit_peek(scope="t", key="k", limit=1, window=60).count == 1
    rate_limit_reset(scope="t", key="k", window=60)
    assert rate_limit_peek(scope="t", key="k", limit=1, window=60).allowed


def test_an_unreachable_cache_lets_the_attempt_through(monkeypatch):
    class Broken:
        def add(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit, "cache", Broken())
    assert rate_limit_hit(scope="t", key="k", limit=1, window=60).allowed
