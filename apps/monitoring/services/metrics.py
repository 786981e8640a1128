"""Storing metrics: the background flush, the per-minute roll-up and the hourly fold.

With Redis (REDIS_URL) every process flushes with one pipelined write into a hash per
minute; the roll-up job (every minute) claims each hash with RENAME — atomic, so two
roll-ups never take the same data — and merges it into MetricRollup rows. Without Redis,
or while it is unreachable (a circuit, apps.core.circuit), the flush merges straight into
the same rows. Merging adds, so a minute may be rolled up in several parts (late flushes,
several processes, an outage) and still come out right.
"""

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from apps.core.circuit import Circuit
from apps.core.redis_cache import is_outage
from apps.monitoring.models import HOUR, MINUTE, MetricRollup, SlowQuery
from apps.monitoring.series import (
    QUERY_MAXES,
    QUERY_SUMS,
    SERIES_FIELDS,
    Cell,
    CellKey,
    QueryCapture,
    QueryKey,
    query_totals_add,
    series_add,
)

logger = logging.getLogger("apps.monitoring")

SEP = "\x1f"
# A claimed hash whose roll-up died midway is taken again after this many seconds.
STALE_CLAIM_SECONDS = 600
KEY_TTL_SECONDS = 7 * 24 * 3600
MAX_QUEUED_CAPTURES = 10000
# A cell's sums in the minute's hash: field "<kind>SEP<key>SEP<stat>" (histogram buckets are
# "h<index>", counters "k<name>"; the max is kept in a sorted set, ZADD GT).
REDIS_STATS = {
    "c": ("count", int),
    "e": ("errors", int),
    "ce": ("client_errors", int),
    "t": ("total_ms", float),
    "q": ("queries", int),
    "qt": ("query_ms", float),
}
# What adding a capture into its SlowQuery row may change.
SLOW_QUERY_CHANGES = (
    "sample_sql",
    "sample_ms",
    "explained_at",
    "code_line",
    *QUERY_SUMS,
    *QUERY_MAXES,
    "last_seen",
)

_local = threading.local()
# Redis unreachable: flushes go to the database until a flush finds it again.
redis_circuit = Circuit("metrics", retry_after=lambda: settings.MONITORING_FLUSH_INTERVAL)


def _prefix() -> str:
    return settings.MONITORING_REDIS_PREFIX


def metrics_redis() -> redis.Redis | None:
    """This process's Redis client for metrics, or None without REDIS_URL."""
    url = settings.REDIS_URL
    if not url:
        return None
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "pid", None) != os.getpid() or getattr(_local, "url", None) != url:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        _local.client, _local.pid, _local.url = client, os.getpid(), url
    return client


# --- the flush (background thread of each process) ------------------------------------


def metrics_flush_write(*, cells: dict[CellKey, Cell], queries: dict[QueryKey, QueryCapture]) -> None:
    """To Redis; without it, or while it is unreachable, straight into the database."""
    client = metrics_redis()
    if client is not None and redis_circuit.allows():
        try:
            _flush_to_redis(client, cells=cells, queries=queries)
        except Exception as exc:
            if not is_outage(exc):
                raise
            _local.client = None  # a fresh connection next time
            redis_circuit.failed(exc)
        else:
            redis_circuit.succeeded()
            return
    metrics_store(cells=cells)
    slow_queries_store(queries=queries)


def _flush_to_redis(
    client: redis.Redis, *, cells: dict[CellKey, Cell], queries: dict[QueryKey, QueryCapture]
) -> None:
    prefix = _prefix()
    pipe = client.pipeline(transaction=False)
    minutes = set()
    for (kind, key, minute), cell in cells.items():
        cells_key = f"{prefix}cells:{minute}"
        field = f"{kind}{SEP}{key}{SEP}"
        minutes.add(minute)
        for stat, (name, number) in REDIS_STATS.items():
            value = getattr(cell, name)
            # The count is always written (a counters-only cell counts 0): it lists the series.
            if value or stat == "c":
                increment = pipe.hincrbyfloat if number is float else pipe.hincrby
                increment(cells_key, field + stat, value)
        for index, count in cell.buckets.items():
            pipe.hincrby(cells_key, f"{field}h{index}", count)
        for name, count in cell.counters.items():
            pipe.hincrby(cells_key, f"{field}k{name}", count)
        if cell.count:
            pipe.zadd(f"{prefix}max:{minute}", {f"{kind}{SEP}{key}": cell.max_ms}, gt=True)
    for minute in minutes:
        pipe.expire(f"{prefix}cells:{minute}", KEY_TTL_SECONDS)
        pipe.expire(f"{prefix}max:{minute}", KEY_TTL_SECONDS)
    if minutes:
        pipe.sadd(f"{prefix}minutes", *minutes)
    if queries:
        pipe.rpush(
            f"{prefix}queries",
            *(
                json.dumps([source_kind, source, _capture_to_dict(c)])
                for (_, source_kind, source), c in queries.items()
            ),
        )
        pipe.ltrim(f"{prefix}queries", -MAX_QUEUED_CAPTURES, -1)
    pipe.execute()


def _capture_to_dict(capture: QueryCapture) -> dict:
    return {name: getattr(capture, name) for name in QueryCapture.__slots__}


def _parse_cells(
    minute: int, data: dict[bytes, bytes], maxes: list[tuple[bytes, float]]
) -> dict[CellKey, Cell]:
    cells: dict[CellKey, Cell] = {}
    for raw_field, raw_value in data.items():
        kind, key, stat = raw_field.decode().split(SEP, 2)
        cell = cells.get((kind, key, minute))
        if cell is None:
            cell = cells[(kind, key, minute)] = Cell()
        value = raw_value.decode()
        if stat in REDIS_STATS:
            name, number = REDIS_STATS[stat]
            setattr(cell, name, number(value))
        elif stat.startswith("h"):
            cell.buckets[int(stat[1:])] = int(value)
        elif stat.startswith("k"):
            cell.counters[stat[1:]] = int(value)
    for member, score in maxes:
        kind, key = member.decode().split(SEP, 1)
        if (kind, key, minute) in cells:
            cells[(kind, key, minute)].max_ms = float(score)
    return cells


# --- the roll-up job (every minute) ---------------------------------------------------------


def metrics_rollup() -> dict[str, int]:
    """Merge every flushed minute waiting in Redis into MetricRollup rows (and slow queries).

    1. Each minute listed in the set is claimed by renaming its hash to a unique name.
    2. The claimed hash is merged into the database, then deleted.
    3. Claims older than STALE_CLAIM_SECONDS (a roll-up that died midway) are taken again.
    4. Slow-query captures are read from the list, stored, then trimmed off it.
    Without Redis the flushes already wrote to the database: nothing to do.
    """
    client = metrics_redis()
    if client is None:
        return {"minutes": 0, "series": 0, "queries": 0}
    prefix = _prefix()
    claims: list[tuple[int, str]] = []
    for raw in sorted(client.smembers(f"{prefix}minutes")):
        minute = int(raw)
        # Removed first: a flush that lands after the rename lists the minute again.
        client.srem(f"{prefix}minutes", raw)
        claim = f"{prefix}rolling:{minute}:{int(time.time())}:{uuid.uuid4().hex}"
        try:
            client.rename(f"{prefix}cells:{minute}", claim)
        except redis.ResponseError:
            continue  # already rolled up
        with contextlib.suppress(redis.ResponseError):
            client.rename(f"{prefix}max:{minute}", claim + ":max")
        claims.append((minute, claim))
    for stale in client.scan_iter(match=f"{prefix}rolling:*", count=500):
        name = stale.decode()
        parts = name[len(prefix) :].split(":")
        if len(parts) != 4 or time.time() - int(parts[2]) < STALE_CLAIM_SECONDS:
            continue
        claim = f"{prefix}rolling:{parts[1]}:{int(time.time())}:{uuid.uuid4().hex}"
        try:
            client.rename(name, claim)
        except redis.ResponseError:
            continue
        with contextlib.suppress(redis.ResponseError):
            client.rename(name + ":max", claim + ":max")
        claims.append((int(parts[1]), claim))

    series = 0
    for minute, claim in claims:
        pipe = client.pipeline(transaction=False)
        pipe.hgetall(claim)
        pipe.zrange(claim + ":max", 0, -1, withscores=True)
        data, maxes = pipe.execute()
        cells = _parse_cells(minute, data, maxes)
        metrics_store(cells=cells)
        client.delete(claim, claim + ":max")
        series += len(cells)

    raw_captures = client.lrange(f"{prefix}queries", 0, MAX_QUEUED_CAPTURES - 1)
    if raw_captures:
        queries: dict[QueryKey, QueryCapture] = {}
        for raw in raw_captures:
            source_kind, source, fields = json.loads(raw)
            capture = QueryCapture(**fields)
            key = (capture.fingerprint, source_kind, source)
            if key in queries:
                queries[key].merge(capture)
            else:
                queries[key] = capture
        slow_queries_store(queries=queries)
        client.ltrim(f"{prefix}queries", len(raw_captures), -1)
    return {"minutes": len(claims), "series": series, "queries": len(raw_captures)}


# --- merging into the database ---------------------------------------------------------------


def _when(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _add_into_rows(
    model: type[Model],
    *,
    wanted: dict[tuple, Any],
    empty_rows: list[Model],
    rows: QuerySet,
    key_of: Callable[[Any], tuple],
    add: Callable[[Any, Any], None],
    fields: Sequence[str],
) -> int:
    """Add each of ``wanted`` into its row. Safe with concurrent writers: the missing rows are
    first inserted empty (conflicts ignored), then ``rows`` are locked and added to.
    Runs inside the caller's transaction."""
    model.objects.bulk_create(empty_rows, ignore_conflicts=True, batch_size=500)
    changed = []
    for row in rows.select_for_update().order_by("id"):
        item = wanted.get(key_of(row))
        if item is None:
            continue
        add(row, item)
        changed.append(row)
    model.objects.bulk_update(changed, fields, batch_size=500)
    return len(changed)


@transaction.atomic
def metrics_store(*, cells: dict[CellKey, Cell], resolution: int = MINUTE) -> int:
    """Add ``cells`` into their MetricRollup rows (created as needed)."""
    if not cells:
        return 0
    wanted = {(kind, key[:300], _when(minute)): cell for (kind, key, minute), cell in cells.items()}
    return _add_into_rows(
        MetricRollup,
        wanted=wanted,
        empty_rows=[
            MetricRollup(kind=k, key=key, resolution=resolution, start=start) for k, key, start in wanted
        ],
        rows=MetricRollup.objects.filter(
            resolution=resolution,
            start__in={start for _, _, start in wanted},
            kind__in={kind for kind, _, _ in wanted},
            key__in={key for _, key, _ in wanted},
        ),
        key_of=lambda row: (row.kind, row.key, row.start),
        add=series_add,
        fields=SERIES_FIELDS,
    )


@transaction.atomic
def slow_queries_store(*, queries: dict[QueryKey, QueryCapture]) -> int:
    """Add ``queries`` into their SlowQuery rows (created as needed)."""
    if not queries:
        return 0
    now = timezone.now()
    wanted = {(fp, kind, source[:300]): capture for (fp, kind, source), capture in queries.items()}

    def add(row: SlowQuery, capture: QueryCapture) -> None:
        if capture.sample_sql and (capture.sample_ms > row.sample_ms or not row.sample_sql):
            row.sample_sql, row.sample_ms = capture.sample_sql, capture.sample_ms
            # A slower sample deserves a fresh plan.
            if capture.slow_calls:
                row.explained_at = None
        row.code_line = row.code_line or capture.code_line[:500]
        query_totals_add(row, capture)
        row.last_seen = _when(int(capture.last_seen)) if capture.last_seen else now

    return _add_into_rows(
        SlowQuery,
        wanted=wanted,
        empty_rows=[
            SlowQuery(
                fingerprint=fp,
                source_kind=kind,
                source=source,
                normalized_sql=capture.normalized_sql,
                database=capture.database,
                vendor=capture.vendor,
                code_line=capture.code_line[:500],
                first_seen=_when(int(capture.first_seen)) if capture.first_seen else now,
                last_seen=now,
            )
            for (fp, kind, source), capture in wanted.items()
        ],
        rows=SlowQuery.objects.filter(
            fingerprint__in={fp for fp, _, _ in wanted}, source_kind__in={k for _, k, _ in wanted}
        ),
        key_of=lambda row: (row.fingerprint, row.source_kind, row.source),
        add=add,
        fields=SLOW_QUERY_CHANGES,
    )


# --- the hourly fold and retention -----------------------------------------------------------


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def metrics_fold(*, now: datetime | None = None) -> dict[str, int]:
    """Fold minutes into hourly rows and apply retention.

    1. Every complete hour (ended 5+ minutes ago) that has minute rows but no hourly rows,
       and the last three complete hours (late flushes), is recomputed from its minutes.
    2. Minute rows older than MONITORING_MINUTE_RETENTION_HOURS and hourly rows older than
       MONITORING_HOUR_RETENTION_DAYS are deleted.
    """
    now = now or timezone.now()
    last_complete = _hour_floor(now - timedelta(minutes=5)) - timedelta(hours=1)
    minute_hours = {
        _hour_floor(start)
        for start in MetricRollup.objects.filter(
            resolution=MINUTE, start__lt=last_complete + timedelta(hours=1)
        )
        .values_list("start", flat=True)
        .distinct()
    }
    folded = set(
        MetricRollup.objects.filter(resolution=HOUR, start__in=minute_hours)
        .values_list("start", flat=True)
        .distinct()
    )
    recent = {last_complete - timedelta(hours=back) for back in range(3)}
    hours = sorted(hour for hour in minute_hours if hour not in folded or hour in recent)
    for hour in hours:
        _fold_hour(hour)
    minutes_deleted, _ = MetricRollup.objects.filter(
        resolution=MINUTE, start__lt=now - timedelta(hours=settings.MONITORING_MINUTE_RETENTION_HOURS)
    ).delete()
    hours_deleted, _ = MetricRollup.objects.filter(
        resolution=HOUR, start__lt=now - timedelta(days=settings.MONITORING_HOUR_RETENTION_DAYS)
    ).delete()
    return {"hours_folded": len(hours), "minutes_deleted": minutes_deleted, "hours_deleted": hours_deleted}


@transaction.atomic
def _fold_hour(hour: datetime) -> None:
    totals: dict[tuple[str, str], MetricRollup] = {}
    for row in MetricRollup.objects.filter(
        resolution=MINUTE, start__gte=hour, start__lt=hour + timedelta(hours=1)
    ):
        total = totals.get((row.kind, row.key))
        if total is None:
            total = MetricRollup(kind=row.kind, key=row.key, resolution=HOUR, start=hour)
            totals[(row.kind, row.key)] = total
        series_add(total, row)
    MetricRollup.objects.filter(resolution=HOUR, start=hour).delete()
    MetricRollup.objects.bulk_create(totals.values(), batch_size=500)
