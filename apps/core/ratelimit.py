"""Fixed-window rate limits and quotas on the shared cache, for every abuse limit of the site.

``rate_limit_hit(scope="redeliver", key=str(user.pk), limit=10, window=60)`` counts one
attempt in the current window (``window`` seconds, aligned to the epoch) and says whether
it is within ``limit``, and if not, after how many seconds the window ends. One ``add``
and one ``incr`` on the cache (atomic in Redis, so every web process shares the count).

The cache is the right home: a lost count (Redis restarted) forgets some attempts, it
never locks anybody out. For the same reason a cache that fails lets the attempt through
and logs it: an outage of Redis must not lock every user out of the site.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

from apps.core.redis_cache import CacheUnavailable

logger = logging.getLogger("apps.core.ratelimit")


def minutes_text(seconds: int) -> str:
    """A wait for a person: "1 minute", "15 minutes" (rounded up)."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


@dataclass(frozen=True)
class RateLimit:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window ends (at least 1)


def _cache_key(scope: str, key: str, window: int, now: float) -> tuple[str, float]:
    started = math.floor(now / window) * window
    # Keys may hold user input (a username, an address): hashed, they are short and safe.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}:{int(started)}", started + window


def rate_limit_hit(*, scope: str, key: str, limit: int, window: int) -> RateLimit:
    """Count one attempt of ``key`` in ``scope``; ``allowed`` is False past ``limit``."""
    now = time.time()
    cache_key, ends = _cache_key(scope, key, window, now)
    retry_after = max(1, math.ceil(ends - now))
    try:
        count = 1 if cache.add(cache_key, 1, timeout=window + 1) else cache.incr(cache_key)
    except CacheUnavailable:
        # Redis is down: its circuit logged that once; this says what it meant here.
        logger.info("rate limit %s not counted: the cache is unreachable", scope)
        return RateLimit(allowed=True, count=0, limit=limit, retry_after=retry_after)
    except ValueError:
        # The key expired between add and incr: this attempt starts a new window.
        cache.set(cache_key, 1, timeout=window + 1)
        count = 1
    except Exception:
        logger.warning("rate limit %s not counted: the cache is unreachable", scope, exc_info=True)
        return RateLimit(allowed=True, count=0, limit=limit, retry_after=retry_after)
    return RateLimit(allowed=count <= limit, count=count, limit=limit, retry_after=retry_after)


def rate_limit_peek(*, scope: str, key: str, limit: int, window: int) -> RateLimit:
    """The state of ``key`` in ``scope`` without counting an attempt."""
    now = time.time()
    cache_key, ends = _cache_key(scope, key, window, now)
    try:
        count = int(cache.get(cache_key) or 0)
    except Exception:
        logger.warning("rate limit %s not read: the cache is unreachable", scope, exc_info=True)
        count = 0
    return RateLimit(
        allowed=count < limit, count=count, limit=limit, retry_after=max(1, math.ceil(ends - now))
    )


def rate_limit_reset(*, scope: str, key: str, window: int) -> None:
    """Forget the attempts of ``key`` in the current window (e.g. after a success)."""
    cache_key, _ = _cache_key(scope, key, window, time.time())
    try:
        cache.delete(cache_key)
    except Exception:
        logger.warning("rate limit %s not reset: the cache is unreachable", scope, exc_info=True)
