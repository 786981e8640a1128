"""Metric windows: merged histograms and percentiles over any span of minutes and hours.

A window reads hourly rows for the hours that were folded and lie wholly inside it, and
minute rows for the rest (the partial first hour and everything since the last fold).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.utils import timezone

from apps.monitoring.histogram import quantile
from apps.monitoring.models import BROWSER_KINDS, HOUR, MINUTE, MetricRollup
from apps.monitoring.series import SERIES_FIELDS, Cell

WINDOWS = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_WINDOW = "1h"


def window_get(name: str | None) -> tuple[str, timedelta]:
    """The window named ``name`` (15m, 1h, 24h, 7d); the default for anything else."""
    if name in WINDOWS:
        return name, WINDOWS[name]
    return DEFAULT_WINDOW, WINDOWS[DEFAULT_WINDOW]


@dataclass
class Summary(Cell):
    """One series (kind, key) over a window: its figures (a Cell's, added up) and percentiles."""

    kind: str = field(kw_only=True)
    key: str = field(kw_only=True)
    minutes: float = 1.0
    # Per time slot (oldest first): (count, p95) for sparklines and charts.
    slots: list[tuple[int, float | None]] = field(default_factory=list)

    def percentile(self, q: float) -> float | None:
        return quantile(self.buckets, q, max_value=self.max_ms or None)

    @property
    def p50(self) -> float | None:
        return self.percentile(0.50)

    @property
    def p75(self) -> float | None:
        return self.percentile(0.75)

    @property
    def p75_cls(self) -> float | None:
        """Layout shift is stored in thousandths (see MetricKind.BROWSER_CLS)."""
        value = self.p75
        return None if value is None else round(value / 1000.0, 3)

    @property
    def p95(self) -> float | None:
        return self.percentile(0.95)

    @property
    def p99(self) -> float | None:
        return self.percentile(0.99)

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.count if self.count else None

    @property
    def error_rate(self) -> float:
        return 100.0 * self.errors / self.count if self.count else 0.0

    @property
    def queries_per_call(self) -> float:
        return self.queries / self.count if self.count else 0.0

    @property
    def per_minute(self) -> float:
        return self.count / self.minutes if self.minutes else 0.0

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "count": self.count,
            "errors": self.errors,
            "client_errors": self.client_errors,
            "error_rate": round(self.error_rate, 3),
            "p50_ms": _round(self.p50),
            "p95_ms": _round(self.p95),
            "p99_ms": _round(self.p99),
            "mean_ms": _round(self.mean_ms),
            "max_ms": _round(self.max_ms),
            "queries_per_call": round(self.queries_per_call, 2),
            "per_minute": round(self.per_minute, 3),
            "counters": self.counters,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def rollups_in_window(
    *, kinds: list[str] | tuple[str, ...], start: datetime, end: datetime, key: str | None = None
) -> list[MetricRollup]:
    """The rows covering [start, end) once each: folded hours inside it, minutes for the rest."""
    base = MetricRollup.objects.filter(kind__in=kinds)
    if key is not None:
        base = base.filter(key=key)
    last_hour = MetricRollup.objects.filter(kind__in=kinds, resolution=HOUR).aggregate(last=Max("start"))[
        "last"
    ]
    first_full_hour = start.replace(minute=0, second=0, microsecond=0)
    if first_full_hour < start:
        first_full_hour += timedelta(hours=1)
    boundary = last_hour + timedelta(hours=1) if last_hour else first_full_hour
    boundary = min(max(boundary, first_full_hour), end)
    rows = base.filter(
        Q(resolution=HOUR, start__gte=first_full_hour, start__lt=boundary)
        | Q(resolution=MINUTE, start__gte=start, start__lt=end)
        & (Q(start__lt=first_full_hour) | Q(start__gte=boundary))
    ).only("kind", "key", "resolution", "start", *SERIES_FIELDS)
    return list(rows)


def summaries(
    *,
    kinds: list[str] | tuple[str, ...],
    window: timedelta,
    now: datetime | None = None,
    key: str | None = None,
    slots: int = 0,
) -> list[Summary]:
    """One Summary per (kind, key) over the window, busiest first; with ``slots``, a timeline too."""
    end = now or timezone.now()
    start = end - window
    minutes = window.total_seconds() / 60
    result: dict[tuple[str, str], Summary] = {}
    per_slot: dict[tuple[str, str], list[Summary]] = {}
    step = window.total_seconds() / slots if slots else 0
    for row in rollups_in_window(kinds=kinds, start=start, end=end, key=key):
        series = (row.kind, row.key)
        summary = result.get(series)
        if summary is None:
            summary = result[series] = Summary(kind=row.kind, key=row.key, minutes=minutes)
            if slots:
                per_slot[series] = [Summary(kind=row.kind, key=row.key) for _ in range(slots)]
        summary.add(row)
        if slots:
            index = int((row.start - start).total_seconds() // step)
            per_slot[series][min(max(index, 0), slots - 1)].add(row)
    for series, summary in result.items():
        if slots:
            summary.slots = [(part.count, part.p95) for part in per_slot[series]]
    return sorted(result.values(), key=lambda s: (-s.count, s.key))


def total(summaries_: list[Summary], *, kind: str = "", key: str = "all") -> Summary:
    """All series merged into one (e.g. every endpoint: overall p95 and error rate)."""
    merged = Summary(kind=kind, key=key, minutes=summaries_[0].minutes if summaries_ else 1.0)
    for summary in summaries_:
        merged.add(summary)
    if summaries_ and summaries_[0].slots:
        length = len(summaries_[0].slots)
        merged.slots = [(sum(s.slots[i][0] for s in summaries_ if s.slots), None) for i in range(length)]
    return merged


def kind_total(kind: str, *, window: timedelta, now: datetime | None = None) -> Summary:
    """Every series of ``kind`` over the window merged into one (all endpoints, all queues)."""
    return total(summaries(kinds=[kind], window=window, now=now), kind=kind)


def browser_pages(*, window: timedelta) -> dict[str, dict[str, Summary]]:
    """{page route: {browser metric kind: Summary}} over the window, busiest series first."""
    pages: dict[str, dict[str, Summary]] = {}
    for item in summaries(kinds=list(BROWSER_KINDS), window=window):
        pages.setdefault(item.key, {})[item.kind] = item
    return pages


SORTS = {
    "p50": lambda s: s.p50 or 0,
    "p95": lambda s: s.p95 or 0,
    "p99": lambda s: s.p99 or 0,
    "calls": lambda s: s.count,
    "errors": lambda s: s.errors,
    "queries": lambda s: s.queries_per_call,
    "total": lambda s: s.total_ms,
}


def sort_summaries(items: list[Summary], sort: str | None) -> tuple[str, list[Summary]]:
    """Sorted by ``sort`` (p50, p95, p99, calls, errors, queries, total; "-" prefix ignored), descending."""
    name = (sort or "p95").lstrip("-")
    if name not in SORTS:
        name = "p95"
    return name, sorted(items, key=lambda s: (-SORTS[name](s), s.key))


def slot_times(*, window: timedelta, slots: int, now: datetime | None = None) -> list[datetime]:
    end = now or timezone.now()
    start = end - window
    step = window / slots
    return [start + step * i for i in range(slots)]
