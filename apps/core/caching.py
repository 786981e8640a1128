"""Caching of expensive reads: stale-while-revalidate, single flight, versioned namespaces.

``cached(f"commerce:customer:{pk}", compute, ttl=60, stale_ttl=600)``:

1. A key's namespace is its first part ("commerce"); every stored value carries the
   namespace's version it was computed under. A service that writes calls
   ``namespace_bump("commerce")``, and every value of the old version counts as missing
   at once (it is overwritten by the next computation). No key listing, no pattern
   deletes; one read (MGET of the version and the value) answers a hit.
2. A fresh value (younger than ``ttl``) is returned as is (a hit).
3. A stale value (older than ``ttl``, younger than ``ttl + stale_ttl``) is returned too
   (a stale hit); the caller that wins the recompute lock (``cache.add``: atomic in
   Redis) recomputes and stores it first. All others serve the stale value meanwhile, so
   a hot key that expires costs one computation, not one per concurrent request.
4. A missing value is computed by the caller that wins the lock; the others wait for it
   (polling, up to ``wait`` seconds) and compute it themselves only if it never comes.
5. Hits, stale hits, misses and computations are counted per namespace in the process
   and added to counters in the cache every few seconds (``cache_stats()`` reads them).

With ``CACHE_ENABLED`` off, ``cached()`` computes every time (the load test's baseline).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response

logger = logging.getLogger("apps.core.caching")

T = TypeVar("T")

OUTCOMES = ("hit", "stale", "miss", "computed")
# Counters are added to the shared ones at most this often (seconds), per process.
STATS_FLUSH_INTERVAL = 5.0
NAMESPACES_KEY = "cache:namespaces"
_MISSING = object()


def _unreachable() -> bool:
    """Whether the cache is taken for down in this process (its circuit is open)."""
    unreachable = getattr(cache, "unreachable", None)
    return bool(unreachable and unreachable())


def caching_enabled() -> bool:
    return bool(getattr(settings, "CACHE_ENABLED", True))


def _tagged(namespace: str) -> str:
    """``cache:{<namespace>}``, the start of every key of a namespace.

    The braces are a Redis Cluster hash tag: only the part within them picks the key's
    slot, so a namespace's version, values, locks and counters all live on one node, and
    ``_read`` gets the version and a value with one MGET there (a cluster refuses an MGET
    of keys in different slots). django-redis puts ``<KEY_PREFIX>:<version>:`` in front,
    which holds no brace, so this stays the key's first brace pair.
    """
    return f"cache:{{{namespace}}}"


def _version_key(namespace: str) -> str:
    return f"{_tagged(namespace)}:version"


def _version_new() -> int:
    """A namespace's first version: never one a value stored before could carry.

    A version key that is missing (evicted, or deleted after Redis missed a bump during
    an outage: apps.core.redis_cache) thus invalidates the namespace, as a bump does;
    counting from 1 again would make values of the old version 1 valid again.
    """
    return time.time_ns()


def _version_first(key: str) -> int:
    """The version of a namespace without one: ours, or that of whoever added it first."""
    version = _version_new()
    if cache.add(key, version, timeout=None) is False:
        # None: the cache could not answer; the version is then only used for values it
        # cannot store either.
        version = int(cache.get(key) or version)
    return version


def namespace_version(namespace: str) -> int:
    key = _version_key(namespace)
    return int(cache.get(key) or _version_first(key))


def namespace_bump(namespace: str) -> int:
    """Invalidate every key of the namespace (call it after writing what they derive from).

    With Redis unreachable the bump is lost, and the write that called it goes on: the
    backend deletes the version key once Redis answers again, which invalidates the same.
    """
    key = _version_key(namespace)
    version = _version_new()
    if cache.add(key, version, timeout=None):
        return version
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add and incr, or the cache is unreachable
        cache.set(key, version, timeout=None)
        return version


def _full_key(namespace: str, key: str) -> str:
    # Long keys (many filters) are hashed; Redis takes any, but a bounded key is cheaper.
    if len(key) > 120:
        key = hashlib.sha256(key.encode()).hexdigest()
    return f"{_tagged(namespace)}:{key}"


def _read(namespace: str, full_key: str) -> tuple[int, Any]:
    """The namespace's version and the stored entry of that version (or _MISSING): one round trip."""
    version_key = _version_key(namespace)
    found = cache.get_many([version_key, full_key])
    if version_key not in found:
        return _version_first(version_key), _MISSING
    version = int(found[version_key])
    entry = found.get(full_key, _MISSING)
    if entry is not _MISSING and entry[2] != version:
        entry = _MISSING  # computed before the last write
    return version, entry


def _stats_key(namespace: str, outcome: str) -> str:
    return f"{_tagged(namespace)}:stats:{outcome}"


class _Stats:
    """Per-process counters, added to the shared ones in the cache every few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, str]] = Counter()
        self._flushed_at = time.monotonic()
        self._known: set[str] = set()

    def count(self, namespace: str, outcome: str) -> None:
        with self._lock:
            self._pending[(namespace, outcome)] += 1
            due = time.monotonic() - self._flushed_at >= STATS_FLUSH_INTERVAL
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._flushed_at = time.monotonic()
        if not pending:
            return
        if _unreachable():
            return  # Counts of an outage are dropped, not written into the keys it lost.
        try:
            for (namespace, outcome), amount in pending.items():
                key = _stats_key(namespace, outcome)
                added = cache.add(key, amount, timeout=None)
                if added is None:
                    return  # the cache could not answer (Redis just became unreachable)
                if not added:
                    try:
                        cache.incr(key, amount)
                    except ValueError:
                        cache.set(key, amount, timeout=None)
            new = {namespace for namespace, _ in pending} - self._known
            if new:
                known = set(cache.get(NAMESPACES_KEY) or ())
                cache.set(NAMESPACES_KEY, sorted(known | new), timeout=None)
                self._known |= new | known
        except Exception as exc:  # statistics never break a request
            logger.warning("cache statistics not flushed: %s", exc)


stats = _Stats()


def cache_stats() -> dict[str, dict[str, int | float]]:
    """Hits, stale hits, misses and computations per namespace, all processes together.

    ``hit_ratio`` counts stale hits as hits: they were answered from the cache.
    """
    stats.flush()
    namespaces = sorted(set(cache.get(NAMESPACES_KEY) or ()))
    keys = [_stats_key(namespace, outcome) for namespace in namespaces for outcome in OUTCOMES]
    values = cache.get_many(keys) if keys else {}
    result: dict[str, dict[str, int | float]] = {}
    for namespace in namespaces:
        row: dict[str, int | float] = {
            outcome: int(values.get(_stats_key(namespace, outcome), 0)) for outcome in OUTCOMES
        }
        answered = row["hit"] + row["stale"]
        total = answered + row["miss"]
        row["hit_ratio"] = round(answered / total, 4) if total else 0.0
        row["version"] = namespace_version(namespace)
        result[namespace] = row
    return result


def namespace_of(key: str) -> str:
    return key.split(":", 1)[0]


def cached(key: str, compute: Callable[[], T], *, ttl: float, stale_ttl: float, wait: float = 10.0) -> T:
    """The value of ``compute()``, from the cache when it is there (see the module docstring).

    ``key`` is ``"<namespace>:<rest>"``; ``ttl`` is how long a value is fresh, ``stale_ttl``
    how much longer it may be served while one caller recomputes it; callers that find
    no value at all wait up to ``wait`` seconds for the one computing it.
    """
    if not caching_enabled():
        return compute()
    namespace = namespace_of(key)
    full_key = _full_key(namespace, key)
    version, entry = _read(namespace, full_key)
    now = time.time()
    if entry is not _MISSING:
        value, fresh_until, _ = entry
        if now < fresh_until:
            stats.count(namespace, "hit")
            return value
        stats.count(namespace, "stale")
        # Stale: one caller refreshes it; everybody (that caller included) could serve it.
        with _recompute_lock(full_key, timeout=wait) as won:
            if won:
                fresh = _fresh_value(namespace, full_key)
                if fresh is not _MISSING:
                    # Refreshed by another caller between our read and our lock.
                    return fresh
                try:
                    return _compute_and_store(
                        namespace, full_key, compute, version, ttl=ttl, stale_ttl=stale_ttl
                    )
                except Exception:
                    # A stale answer beats an error page; the next caller tries again.
                    logger.exception("recomputing %s failed: serving the stale value", full_key)
        return value

    stats.count(namespace, "miss")
    deadline = time.monotonic() + wait
    while True:
        with _recompute_lock(full_key, timeout=wait) as won:
            if won:
                # The lock may be free because another caller has just stored the value.
                fresh = _fresh_value(namespace, full_key)
                if fresh is not _MISSING:
                    return fresh
                return _compute_and_store(namespace, full_key, compute, version, ttl=ttl, stale_ttl=stale_ttl)
        time.sleep(0.02)
        _, entry = _read(namespace, full_key)
        if entry is not _MISSING:
            return entry[0]
        if time.monotonic() > deadline:
            # The computing caller died or is very slow: do not wait for ever.
            return _compute_and_store(namespace, full_key, compute, version, ttl=ttl, stale_ttl=stale_ttl)


def _fresh_value(namespace: str, full_key: str) -> Any:
    _, entry = _read(namespace, full_key)
    if entry is not _MISSING and time.time() < entry[1]:
        return entry[0]
    return _MISSING


def _compute_and_store(
    namespace: str, full_key: str, compute: Callable[[], T], version: int, *, ttl: float, stale_ttl: float
) -> T:
    value = compute()
    stats.count(namespace, "computed")
    # Stored under the version read before computing: a write during the computation
    # bumped it, and the value then counts as missing, as it should.
    cache.set(full_key, (value, time.time() + ttl, version), timeout=ttl + stale_ttl)
    return value


class _recompute_lock:
    """``with _recompute_lock(key, timeout=…) as won:`` — an expiring lock in the cache."""

    def __init__(self, key: str, *, timeout: float) -> None:
        self.key = f"{key}:lock"
        self.token = secrets.token_hex(8)
        self.timeout = timeout
        self.won = False

    def __enter__(self) -> bool:
        added = cache.add(self.key, self.token, timeout=max(int(self.timeout), 1))
        # None: the cache could not answer (Redis unreachable, apps.core.redis_cache). Nobody
        # can store a value for us to wait for then: every caller computes its own.
        self.won = added is None or bool(added)
        return self.won

    def __exit__(self, *exc_info: Any) -> None:
        # Release only our own lock (an expired one may belong to another caller now).
        if self.won and cache.get(self.key) == self.token:
            cache.delete(self.key)


def cached_put(key: str, value: Any, *, ttl: float, stale_ttl: float) -> None:
    """Store a value computed elsewhere (cache warming), fresh for ``ttl`` seconds."""
    namespace = namespace_of(key)
    version = namespace_version(namespace)
    cache.set(_full_key(namespace, key), (value, time.time() + ttl, version), timeout=ttl + stale_ttl)


# --- Conditional GET ----------------------------------------------------------------------


def etag_for(payload: str | bytes) -> str:
    """A strong ETag for a response body (the representation a client would receive)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return f'"{hashlib.sha256(data).hexdigest()[:32]}"'


def not_modified(request: HttpRequest, *, etag: str) -> HttpResponse | None:
    """A 304 (carrying the ETag) if the client's If-None-Match already names ``etag``, else None."""
    response = get_conditional_response(request, etag=etag)
    if response is not None:
        response.headers["ETag"] = etag
    return response


@dataclass(frozen=True)
class JsonBody:
    """A serialized JSON representation and its ETag, cached together."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, payload: str | bytes) -> JsonBody:
        body = payload.encode() if isinstance(payload, str) else payload
        return cls(body=body, etag=etag_for(body))


def cached_json(
    key: str, serialize: Callable[[], str | bytes | None], *, ttl: float, stale_ttl: float
) -> JsonBody | None:
    """``cached()`` for read endpoints: the JSON text itself is cached, with its ETag.

    A hit then costs two cache reads and no query, model instance or schema validation;
    ``serialize`` returns None for "does not exist" (cached too, until a write).
    """

    def compute() -> JsonBody | None:
        payload = serialize()
        return None if payload is None else JsonBody.of(payload)

    return cached(key, compute, ttl=ttl, stale_ttl=stale_ttl)


def json_response(request: HttpRequest, payload: JsonBody) -> HttpResponse:
    """200 with the body and its ETag, or a bodyless 304 when the client has this version."""
    return not_modified(request, etag=payload.etag) or HttpResponse(
        payload.body, content_type="application/json", headers={"ETag": payload.etag}
    )


# --- Warming ------------------------------------------------------------------------------

# name -> function(limit) that fills the cache with an app's hottest keys, returns how many.
_warmers: dict[str, Callable[[int], int]] = {}


def warmer(name: str) -> Callable[[Callable[[int], int]], Callable[[int], int]]:
    """Register an app's cache warmer (apps register from their ``tasks`` modules)."""

    def register(func: Callable[[int], int]) -> Callable[[int], int]:
        _warmers[name] = func
        return func

    return register


def warmers() -> dict[str, Callable[[int], int]]:
    return dict(sorted(_warmers.items()))
