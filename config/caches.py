"""The CACHES entry and the session engine, from the environment's choices (settings.py).

A cache URL (REDIS_CACHE_URL) puts the cache on Redis, one server or a Redis Cluster
(config/redis_cluster.py), behind a circuit breaker (apps.core.redis_cache): Redis down
reads as misses and no-ops. Without one, the local-memory cache of a first run.
"""

from config.redis_cluster import cache_client_options


def cache_config(
    url: str, *, key_prefix: str, timeout: float, retry_after: float, failover_wait: float
) -> dict:
    """``CACHES`` for ``url`` (empty: local memory). ``timeout`` bounds a connect and one
    command; after a failure no operation of the process tries Redis for ``retry_after`` s."""
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "apps.core.redis_cache.ResilientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": key_prefix,
            "OPTIONS": {
                **cache_client_options(url, failover_wait=failover_wait),
                "SOCKET_CONNECT_TIMEOUT": timeout,
                "SOCKET_TIMEOUT": timeout,
                "RETRY_AFTER": retry_after,
            },
        }
    }


def session_engine(*, signed_cookie: bool, cached: bool) -> str:
    """A signed cookie (no store read per request; apps.core.session_users keeps it
    revocable), else the database, read through the cache when there is a shared one."""
    if signed_cookie:
        return "django.contrib.sessions.backends.signed_cookies"
    return "django.contrib.sessions.backends.cached_db" if cached else "django.contrib.sessions.backends.db"
