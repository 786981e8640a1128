"""The cache backend: django-redis's ``RedisCache`` behind a circuit breaker.

Redis is where the site keeps copies (cached reads, sessions in front of their table,
the bell, rate counters): when it is unreachable, pages must still be served from the
database. django-redis already turns a failed operation into a miss or a no-op when told
to ignore exceptions (``IGNORE_EXCEPTIONS``: ``get`` answers the default, ``get_many``
``{}``, the writes ``None``); this backend always does so for *connection* failures and
adds three things:

- a circuit (``apps.core.circuit``): after one failure no operation of this process
  tries Redis for ``OPTIONS["RETRY_AFTER"]`` seconds, so an outage costs one timeout
  per process and interval, not one per request (and is logged once, not per request);
  then one operation probes it;
- ``incr``/``decr`` raise ``CacheUnavailable``, a ``ValueError`` (Django's "no such
  key"): callers already fall back to ``set`` for that, which is then a no-op;
- writes that did not reach Redis are remembered (their keys, up to ``MAX_LOST``) and
  those keys are deleted when it answers again, before anything else is read: a value
  written before the outage is not served after it as if the write (a logout, a new
  bell, a namespace bump) had happened. A process that ends before Redis comes back
  takes its list with it; those keys live until their TTL.

Errors that are not about reaching Redis (a ``ResponseError``) are raised, as
django-redis does without ``IGNORE_EXCEPTIONS``. The breaker wraps whatever client class
``OPTIONS["CLIENT_CLASS"]`` names (the default one, a cluster client), so it lives here
and not in a client subclass.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import redis.exceptions
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted

from apps.core.circuit import Circuit

logger = logging.getLogger("apps.core.redis_cache")

# Keys of writes lost in one outage that are remembered for deleting afterwards.
MAX_LOST = 10_000
# What says Redis is unreachable (a ResponseError says it answered). A cluster without a
# reachable node raises RedisClusterException itself; its subclasses are usage errors.
OUTAGE_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.SlotNotCoveredError,
    socket.timeout,
    OSError,
)
# The client methods that change a key (the first argument); a lost one makes the key suspect.
_WRITES_OF_ONE = frozenset(
    {"set", "add", "delete", "incr", "decr", "touch", "expire", "expire_at", "pexpire", "pexpire_at"}
    | {"persist", "incr_version", "sadd", "srem", "spop", "hset", "hdel", "zadd", "zincrby", "zrem"}
)
# The RedisCache methods that hand their call to the client (all but these few).
_GUARDED = frozenset(name for name in vars(RedisCache) if not name.startswith("_")) - {"client", "close"}


class CacheUnavailable(ValueError):
    """Redis is unreachable; a ValueError, so that ``incr``'s callers fall back to ``set``."""


def is_outage(exc: BaseException | None) -> bool:
    if type(exc) is redis.exceptions.RedisClusterException:
        return True
    return isinstance(exc, OUTAGE_ERRORS)


class _Guarded:
    """The client as the backend's methods see it: every data call passes the circuit."""

    def __init__(self, client: Any, backend: ResilientRedisCache) -> None:
        self._client = client
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in _GUARDED:
            return attribute
        return lambda *args, **kwargs: self._backend._guarded_call(name, attribute, args, kwargs)


class _ProcessState:
    """One Redis's circuit and the keys of the writes it missed, shared by a process's threads."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        self.circuit = Circuit("cache", retry_after=lambda: self.retry_after)
        self.lock = threading.Lock()
        self.lost: set[tuple[str, int | None]] = set()
        self.overflow = False

    def reset(self) -> None:
        self.circuit.reset()
        with self.lock:
            self.lost, self.overflow = set(), False


_states: dict[str, _ProcessState] = {}
_states_lock = threading.Lock()


def _state_for(location: str, retry_after: float) -> _ProcessState:
    with _states_lock:
        state = _states.get(location)
        if state is None:
            state = _states[location] = _ProcessState(retry_after)
        state.retry_after = retry_after
        return state


class ResilientRedisCache(RedisCache):
    """``django_redis.cache.RedisCache`` that survives Redis (see the module docstring)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        retry_after = float(params.get("OPTIONS", {}).get("RETRY_AFTER", 5.0))
        if retry_after < 0:
            raise ValueError(f"CACHES OPTIONS RETRY_AFTER must be 0 or more seconds, not {retry_after}")
        # Django makes a backend per thread; the circuit and the lost writes are the process's.
        self._state = _state_for(f"{server}|{self.key_prefix}", retry_after)
        self.circuit = self._state.circuit
        # Outages answer as misses (django-redis's mechanism); other errors still raise.
        self._ignore_exceptions = True
        self._guarded_client: _Guarded | None = None

    @property
    def client(self) -> Any:
        if self._guarded_client is None:
            self._guarded_client = _Guarded(super().client, self)
        return self._guarded_client

    def unreachable(self) -> bool:
        """Whether Redis is taken for down in this process (the circuit is open)."""
        return self.circuit.is_open

    def lost_keys(self) -> set[tuple[str, int | None]]:
        """(key, version) of the writes lost so far in this outage (tests, diagnostics)."""
        with self._state.lock:
            return set(self._state.lost)

    def reset(self) -> None:
        """Circuit closed, nothing remembered (tests)."""
        self._state.reset()

    def incr(self, key: Any, delta: int = 1, version: int | None = None, client: Any = None) -> int:
        return self._counted(self.client.incr, key, delta, version, client)

    def decr(self, key: Any, delta: int = 1, version: int | None = None, client: Any = None) -> int:
        return self._counted(self.client.decr, key, delta, version, client)

    @staticmethod
    def _counted(method: Callable[..., int], key: Any, delta: int, version: int | None, client: Any) -> int:
        try:
            return method(key, delta=delta, version=version, client=client)
        except ConnectionInterrupted as exc:
            raise CacheUnavailable(f"cache unreachable: {exc.__cause__}") from exc

    # --- the circuit ----------------------------------------------------------------------

    def _guarded_call(self, name: str, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        circuit = self.circuit
        if not circuit.allows():
            self._note_lost(name, args, kwargs)
            raise ConnectionInterrupted(connection=None) from CacheUnavailable("circuit open")
        try:
            if circuit.is_open:
                # This call probes Redis: first forget what it may hold from before.
                self._forget_lost()
            result = method(*args, **kwargs)
        except ConnectionInterrupted as exc:
            if not is_outage(exc.__cause__):
                raise exc.__cause__ from None
            self._note_lost(name, args, kwargs)
            circuit.failed(exc.__cause__)
            raise
        except Exception as exc:
            # A client that does not wrap its errors in ConnectionInterrupted.
            if not is_outage(exc):
                raise
            self._note_lost(name, args, kwargs)
            circuit.failed(exc)
            raise ConnectionInterrupted(connection=None) from exc
        circuit.succeeded()
        return result

    def _note_lost(self, name: str, args: tuple, kwargs: dict) -> None:
        if name in _WRITES_OF_ONE:
            keys = [args[0] if args else kwargs.get("key")]
        elif name == "set_many":
            keys = list(args[0] if args else kwargs.get("data", {}))
        elif name == "delete_many":
            keys = list(args[0] if args else kwargs.get("keys", ()))
        else:
            return
        version = kwargs.get("version")
        state = self._state
        with state.lock:
            for key in keys:
                if len(state.lost) >= MAX_LOST:
                    state.overflow = True
                    break
                state.lost.add((key, version))

    def _forget_lost(self) -> None:
        """Delete the keys whose writes were lost (raises, keeping them, if Redis is still down)."""
        state = self._state
        with state.lock:
            lost, overflow = state.lost, state.overflow
            state.lost, state.overflow = set(), False
        try:
            by_version: dict[int | None, list[str]] = {}
            for key, version in lost:
                by_version.setdefault(version, []).append(key)
            for version, keys in by_version.items():
                super().client.delete_many(keys, version=version)
        except BaseException:
            with state.lock:
                state.lost |= lost
                state.overflow |= overflow
            raise
        if overflow:
            logger.warning(
                "cache: more than %d writes were lost while Redis was unreachable; the others' "
                "keys may hold values from before the outage until they expire",
                MAX_LOST,
            )
        elif lost:
            logger.info(
                "cache: deleted %d keys whose writes were lost while Redis was unreachable", len(lost)
            )
