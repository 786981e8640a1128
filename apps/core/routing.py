"""Read-replica routing: reads to a healthy PostgreSQL streaming replica, the rest to the primary.

Rules, in the order the router applies them:

1. Writes always go to the primary ("default"). A write to a domain table marks the
   current flow (request or ``reads_from_replica()`` block) as written: its later reads
   go to the primary too (read-your-writes). The middleware carries that over to the
   same client's next requests with a short-lived signed cookie.
2. Tables of apps listed in ``PRIMARY_ONLY_APPS`` (Silk, sessions, django-q2, jobs,
   monitoring, the login lockout's attempts) are always read from the primary: they are
   written on almost every request or job, and a stale read of them is a bug (a job that
   looks queued after it started, a lockout that misses the last failures).
3. Reads inside a transaction on the primary stay on the primary, or they would not see
   the transaction's own writes.
4. Only flows that opted in read from a replica: web requests (the middleware opts in)
   and code inside ``reads_from_replica()``. Jobs, commands and shells read from the
   primary unless they use it.
5. A replica is used only if the background monitor saw it reachable and lagging no more
   than ``REPLICA_MAX_LAG_SECONDS`` within the last few checks; with none left, reads go to
   the primary, and nothing fails. One flow keeps the replica it first picked.

The monitor is a daemon thread per process (started on first use, again after a fork).
Each round it reads the primary's current WAL position, then asks each replica how far
it has replayed: a replica at or past that position has no lag (this stays right when
the primary is idle, where ``now() - pg_last_xact_replay_timestamp()`` would grow without
bound); one behind it lags by the age of its last replayed transaction, an upper bound.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import os
import random
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger("apps.core.routing")

PRIMARY = DEFAULT_DB_ALIAS
# Always read and written on the primary, whatever the flow.
PRIMARY_ONLY_APPS = frozenset({"silk", "sessions", "django_q", "jobs", "monitoring", "axes"})
# Where the monitor publishes what it saw, for the performance admin (all processes).
STATUS_CACHE_KEY = "core:replicas:status"


@dataclasses.dataclass
class Flow:
    """Routing state of one request or one ``reads_from_replica()`` block."""

    replica_allowed: bool = False
    # Set by the first write to a domain table; reads stay on the primary afterwards.
    wrote: bool = False
    # The replica this flow reads from, picked on its first read ("" = not yet picked).
    replica: str = ""
    replica_used: bool = False


_flow: contextvars.ContextVar[Flow | None] = contextvars.ContextVar("tempo_db_flow", default=None)


@contextlib.contextmanager
def flow(*, replica_allowed: bool, wrote: bool = False) -> Iterator[Flow]:
    """Route the enclosed code as one flow; the middleware opens one per request."""
    state = Flow(replica_allowed=replica_allowed and routing_enabled(), wrote=wrote)
    token = _flow.set(state)
    try:
        yield state
    finally:
        _flow.reset(token)


@contextlib.contextmanager
def reads_from_replica() -> Iterator[Flow]:
    """Let a job, command or report read from a replica (its writes still stick to the primary).

    Use it around long read-only work that tolerates data a few seconds old::

        with reads_from_replica():
            rows = list(LineItem.objects.filter(...))
    """
    outer = _flow.get()
    with flow(replica_allowed=True, wrote=bool(outer and outer.wrote)) as state:
        yield state


def mark_written() -> None:
    """Say that the current flow wrote (raw SQL writes that bypass the router call this)."""
    state = _flow.get()
    if state is not None:
        state.wrote = True


def routing_enabled() -> bool:
    return bool(getattr(settings, "REPLICA_ROUTING_ENABLED", True)) and bool(replica_aliases())


def replica_aliases() -> list[str]:
    return list(getattr(settings, "REPLICA_DATABASES", []))


def read_alias() -> str:
    """The database the current flow reads domain tables from."""
    state = _flow.get()
    if state is None or not state.replica_allowed or state.wrote:
        return PRIMARY
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY
    usable = monitor.usable_replicas()
    if state.replica not in usable:
        if not usable:
            return PRIMARY
        state.replica = random.choice(usable)  # noqa: S311 (load spreading, not security)
    state.replica_used = True
    return state.replica


class ReplicaRouter:
    """Django database router (``DATABASE_ROUTERS``); see the module docstring for the rules."""

    def db_for_read(self, model, **hints) -> str:
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return PRIMARY
        return read_alias()

    def db_for_write(self, model, **hints) -> str:
        # Django asks this just before a write (save, create, update, delete,
        # select_for_update, get_or_create): the flow has written from now on.
        if model._meta.app_label not in PRIMARY_ONLY_APPS:
            mark_written()
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # Every alias holds the same data: a replica is a copy of the primary.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool | None:
        # Replicas follow the primary's WAL; they are never migrated themselves.
        if db in replica_aliases():
            return False
        return None


# --- Health and lag of the replicas -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReplicaStatus:
    alias: str
    reachable: bool
    # Seconds the replica's data is behind the primary's (an upper bound); None if unknown.
    lag_seconds: float | None
    checked_at: float
    error: str = ""

    def usable(self, *, max_lag: float, max_age: float, now: float) -> bool:
        return (
            self.reachable
            and self.lag_seconds is not None
            and self.lag_seconds <= max_lag
            and now - self.checked_at <= max_age
        )


class ReplicaMonitor:
    """Measures each replica in a background thread; the router asks it which ones to use."""

    def __init__(self, *, background: bool = True) -> None:
        # Without background, only check_now() measures (tests drive it).
        self.background = background
        self._lock = threading.Lock()
        self._statuses: dict[str, ReplicaStatus] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()

    # Settings are read at call time, so that tests and operators can change them.
    @staticmethod
    def interval() -> float:
        return float(getattr(settings, "REPLICA_CHECK_INTERVAL", 1.0))

    def usable_replicas(self) -> list[str]:
        self._ensure_thread()
        max_lag = float(getattr(settings, "REPLICA_MAX_LAG_SECONDS", 2.0))
        # A status older than three rounds means the monitor is stuck: trust nothing.
        max_age = max(3 * self.interval(), 1.0)
        now = time.time()
        statuses = self._statuses
        return [
            alias
            for alias in replica_aliases()
            if alias in statuses and statuses[alias].usable(max_lag=max_lag, max_age=max_age, now=now)
        ]

    def statuses(self) -> dict[str, ReplicaStatus]:
        return dict(self._statuses)

    def record(self, status: ReplicaStatus) -> None:
        """Keep one replica's status (a measurement made elsewhere)."""
        with self._lock:
            self._statuses = {**self._statuses, status.alias: status}

    def mark_down(self, alias: str, error: str) -> None:
        """A request found the replica broken: skip it until the next check says otherwise."""
        self.record(ReplicaStatus(alias, False, None, time.time(), error[:200]))
        logger.warning("replica %s marked down: %s", alias, error[:200])

    def check_now(self) -> dict[str, ReplicaStatus]:
        """Measure every replica once, in this thread; returns and keeps the statuses."""
        aliases = replica_aliases()
        if not aliases:
            return {}
        primary_lsn = None
        try:
            primary_lsn = self._primary_lsn()
        except Exception as exc:
            logger.warning("replica monitor: cannot read the primary's WAL position: %s", exc)
        statuses = {alias: self._measure(alias, primary_lsn) for alias in aliases}
        with self._lock:
            changed = [
                alias
                for alias, status in statuses.items()
                if alias not in self._statuses or self._statuses[alias].reachable != status.reachable
            ]
            self._statuses = statuses
        for alias in changed:
            status = statuses[alias]
            if status.reachable:
                logger.info("replica %s reachable, lag %.3fs", alias, status.lag_seconds or 0.0)
            else:
                logger.warning("replica %s unreachable: %s", alias, status.error)
        self._publish(statuses)
        return statuses

    def _primary_lsn(self) -> str | None:
        connection = connections[PRIMARY]
        try:
            if connection.vendor != "postgresql":
                return None
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_wal_lsn()::text")
                return cursor.fetchone()[0]
        finally:
            self._release(PRIMARY)

    def _measure(self, alias: str, primary_lsn: str | None) -> ReplicaStatus:
        try:
            connection = connections[alias]
            if connection.vendor != "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                return ReplicaStatus(alias, True, 0.0, time.time())
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_is_in_recovery(),"
                    " pg_last_wal_replay_lsn() >= %s::pg_lsn,"
                    " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8",
                    [primary_lsn or "0/0"],
                )
                in_recovery, caught_up, replay_age = cursor.fetchone()
            if not in_recovery or (primary_lsn is not None and caught_up):
                # A promoted replica is a primary of its own; a caught-up one has no lag.
                lag = 0.0
            elif primary_lsn is None:
                lag = None
            else:
                lag = max(float(replay_age), 0.0) if replay_age is not None else None
            return ReplicaStatus(alias, True, lag, time.time())
        except Exception as exc:
            with contextlib.suppress(Exception):
                connections[alias].close()
            message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return ReplicaStatus(alias, False, None, time.time(), message[:200])
        finally:
            with contextlib.suppress(Exception):
                self._release(alias)

    @staticmethod
    def _release(alias: str) -> None:
        """Give a pooled connection back after each round; keep a persistent one if healthy."""
        connection = connections[alias]
        if getattr(connection, "pool", None) is not None:
            connection.close()
        else:
            connection.close_if_unusable_or_obsolete()

    @staticmethod
    def _publish(statuses: dict[str, ReplicaStatus]) -> None:
        try:
            cache.set(
                STATUS_CACHE_KEY,
                {alias: dataclasses.asdict(status) for alias, status in statuses.items()},
                timeout=60,
            )
        except Exception as exc:  # the cache is a window for operators, never a dependency
            logger.debug("replica monitor: cannot publish status: %s", exc)

    def _ensure_thread(self) -> None:
        if not self.background:
            return
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            # After a fork the parent's thread does not exist here; its statuses are old news.
            self._statuses = {}
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="replica-monitor", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                self.check_now()
            except Exception:
                logger.exception("replica monitor round failed")
            stop.wait(self.interval())
        # The thread's own connections (Django keeps them per thread) end with it.
        connections.close_all()

    def stop(self) -> None:
        """End the background thread (tests; processes simply exit)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None


monitor = ReplicaMonitor()


def replica_status() -> dict[str, dict]:
    """What the monitors last saw, across processes (via the cache); for the performance admin."""
    try:
        shared = cache.get(STATUS_CACHE_KEY) or {}
    except Exception:
        shared = {}
    local = {alias: dataclasses.asdict(status) for alias, status in monitor.statuses().items()}
    return {**shared, **local}
