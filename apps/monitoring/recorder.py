"""In-process metrics: histograms per series and minute, flushed in the background.

The request path only adds numbers to a dict under a lock (no I/O). A daemon thread per
process flushes every MONITORING_FLUSH_INTERVAL seconds: one pipelined write to Redis, or
straight to the database without Redis (the writer wired in MonitoringConfig.ready). A fork
(django-q2 workers, gunicorn with preload) starts the child empty with its own thread.

In Django's test environment (set up by the test runner, which gives ``mail.outbox``) no
thread starts: tests flush explicitly, so no background writes land in test databases.
"""

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core import mail
from django.db import connections

from apps.monitoring.histogram import bucket_index
from apps.monitoring.series import Cell, CellKey, QueryCapture, QueryKey

logger = logging.getLogger("apps.monitoring")

# A process that cannot flush (Redis and database both down) keeps at most this many
# series-minutes, dropping the oldest minute first: memory stays bounded.
MAX_CELLS = 20000
MAX_QUERY_CAPTURES = 2000


# What writes a flushed snapshot (services.metrics.metrics_flush_write, set in
# MonitoringConfig.ready): the recorder itself stays free of storage.
Writer = Callable[..., None]


def _in_test_environment() -> bool:
    return hasattr(mail, "outbox")


def _add_counters(cell: Cell, counters: dict[str, int]) -> None:
    for name, count in counters.items():
        cell.counters[name] = cell.counters.get(name, 0) + count


class Recorder:
    def __init__(self) -> None:
        self._reset()
        self._periodic: list[Callable[[], None]] = []
        self._write: Writer | None = None
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._cells: dict[CellKey, Cell] = {}
        self._queries: dict[QueryKey, QueryCapture] = {}
        self._thread: threading.Thread | None = None
        self._started = False
        self._stopping = threading.Event()

    # --- the hot path -----------------------------------------------------------------

    def observe(
        self,
        kind: str,
        key: str,
        ms: float,
        *,
        error: bool = False,
        client_error: bool = False,
        queries: int = 0,
        query_ms: float = 0.0,
        counters: dict[str, int] | None = None,
        at: float | None = None,
    ) -> None:
        """One observation of ``ms`` milliseconds for series (kind, key)."""
        index = bucket_index(ms)
        with self._lock:
            cell = self._cell(kind, key, at)
            cell.count += 1
            cell.total_ms += ms
            if ms > cell.max_ms:
                cell.max_ms = ms
            cell.buckets[index] = cell.buckets.get(index, 0) + 1
            if error:
                cell.errors += 1
            if client_error:
                cell.client_errors += 1
            if queries:
                cell.queries += queries
                cell.query_ms += query_ms
            if counters:
                _add_counters(cell, counters)
        if not self._started:
            self.start()

    def count(
        self, kind: str, key: str, counters: dict[str, int], *, errors: int = 0, at: float | None = None
    ) -> None:
        """Counters without a timing (e.g. a retry seen when a job starts again)."""
        with self._lock:
            cell = self._cell(kind, key, at)
            cell.errors += errors
            _add_counters(cell, counters)
        if not self._started:
            self.start()

    def _cell(self, kind: str, key: str, at: float | None) -> Cell:
        """The series' cell of the minute holding ``at`` (now if None); the caller holds the lock."""
        minute = int((at if at is not None else time.time()) // 60) * 60
        cell = self._cells.get((kind, key, minute))
        if cell is None:
            if len(self._cells) >= MAX_CELLS:
                self._drop_oldest_minute()
            cell = self._cells[(kind, key, minute)] = Cell()
        return cell

    def observe_query(self, source_kind: str, source: str, capture: QueryCapture) -> None:
        now = time.time()
        capture.first_seen = capture.first_seen or now
        capture.last_seen = now
        key = (capture.fingerprint, source_kind, source)
        with self._lock:
            held = self._queries.get(key)
            if held is not None:
                held.merge(capture)
            elif len(self._queries) < MAX_QUERY_CAPTURES:
                self._queries[key] = capture

    def _drop_oldest_minute(self) -> None:
        oldest = min(minute for _, _, minute in self._cells)
        for cell_key in [k for k in self._cells if k[2] == oldest]:
            del self._cells[cell_key]
        logger.warning("monitoring: metrics could not be flushed; dropped the minute %s", oldest)

    # --- flushing ----------------------------------------------------------------------

    def take(self) -> tuple[dict[CellKey, Cell], dict[QueryKey, QueryCapture]]:
        with self._lock:
            cells, self._cells = self._cells, {}
            queries, self._queries = self._queries, {}
        return cells, queries

    def give_back(self, cells: dict[CellKey, Cell], queries: dict[QueryKey, QueryCapture]) -> None:
        """Return a snapshot that could not be written, to try again at the next flush."""
        with self._lock:
            for cell_key, cell in cells.items():
                held = self._cells.get(cell_key)
                if held is None:
                    if len(self._cells) < MAX_CELLS:
                        self._cells[cell_key] = cell
                else:
                    held.add(cell)
            for query_key, capture in queries.items():
                held = self._queries.get(query_key)
                if held is None:
                    self._queries[query_key] = capture
                else:
                    held.merge(capture)

    def write_with(self, write: Writer) -> None:
        """Flushes hand their snapshot to ``write(cells=..., queries=...)``."""
        self._write = write

    def flush(self) -> int:
        """Write what was gathered since the last flush; returns the number of series-minutes."""
        if self._write is None:
            raise RuntimeError("The recorder has no writer yet (MonitoringConfig.ready() sets it).")
        cells, queries = self.take()
        if not cells and not queries:
            return 0
        try:
            self._write(cells=cells, queries=queries)
        except Exception:
            self.give_back(cells, queries)
            raise
        return len(cells)

    def reset(self) -> None:
        """Forget everything unflushed (tests)."""
        self.take()

    # --- the background thread ------------------------------------------------------------

    def every_flush(self, func: Callable[[], None]) -> None:
        """Also run ``func`` in the background thread at each flush (e.g. refreshing Silk state)."""
        if func not in self._periodic:
            self._periodic.append(func)

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        interval = float(settings.MONITORING_FLUSH_INTERVAL)
        if interval <= 0 or _in_test_environment():
            return
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="monitoring-flush", daemon=True
        )
        self._thread.start()
        atexit.register(self.stop)

    def _run(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            self._flush_round()
            # A thread's connections are its own: give them back between rounds.
            connections.close_all()

    def _flush_round(self) -> None:
        try:
            self.flush()
        except Exception as exc:
            logger.warning("monitoring: flush failed, keeping the figures for the next one: %s", exc)
        for func in self._periodic:
            try:
                func()
            except Exception as exc:
                logger.warning("monitoring: %s failed: %s", getattr(func, "__name__", func), exc)

    def stop(self) -> None:
        """Last flush at process exit (gunicorn and django-q2 workers exit through atexit)."""
        if self._thread is None:
            return
        self._stopping.set()
        self._flush_round()


recorder = Recorder()
