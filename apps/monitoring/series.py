"""What the recorder gathers and the roll-up stores, and how two of each add up (pure; no Django).

A ``Cell`` is one series' figures (sums, max, histogram, counters) over a minute in a
process, and the one definition of those fields: a MetricRollup row stores the same ones
(SERIES_FIELDS) and a window's Summary extends Cell. A ``QueryCapture`` is a slow or
repeated statement caught in a request or job; a SlowQuery row adds up the same way.
The recorder (the hot path) and the stores (services.metrics) both build on this module,
so neither imports the other.
"""

from dataclasses import dataclass, field, fields

from apps.monitoring.histogram import merge

SERIES_SUMS = ("count", "errors", "client_errors", "total_ms", "queries", "query_ms")
SERIES_MAXES = ("max_ms",)


def _add_totals(into, other, *, sums: tuple[str, ...], maxes: tuple[str, ...]) -> None:
    for name in sums:
        setattr(into, name, getattr(into, name) + getattr(other, name))
    for name in maxes:
        setattr(into, name, max(getattr(into, name), getattr(other, name)))


def series_add(into, other) -> None:
    """Add one series' totals (sums, max, histogram, counters) into another: a Cell, a
    Summary or a MetricRollup row alike, whichever side."""
    _add_totals(into, other, sums=SERIES_SUMS, maxes=SERIES_MAXES)
    into.buckets = merge(dict(into.buckets), other.buckets)
    counters = dict(into.counters)
    for name, count in other.counters.items():
        counters[name] = counters.get(name, 0) + count
    into.counters = counters


@dataclass(slots=True)
class Cell:
    count: int = 0
    errors: int = 0
    client_errors: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    queries: int = 0
    query_ms: float = 0.0
    # The sparse histogram {bucket index: count} of the values in milliseconds (histogram.py).
    buckets: dict[int, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def add(self, other) -> None:
        """Add another Cell's, a Summary's or a MetricRollup row's figures into this one."""
        series_add(self, other)


# Every field series_add writes: what a stored series loads and saves.
SERIES_FIELDS = tuple(f.name for f in fields(Cell))

# Per captured statement: the sums and the maxima that merging adds up.
QUERY_SUMS = ("calls", "total_ms", "slow_calls", "nplus1_hits")
QUERY_MAXES = ("max_ms", "max_repeats")


def query_totals_add(into, other) -> None:
    """Add one capture's run totals into another: a QueryCapture or a SlowQuery row alike."""
    _add_totals(into, other, sums=QUERY_SUMS, maxes=QUERY_MAXES)


@dataclass(slots=True)
class QueryCapture:
    """A slow or repeated statement caught in one request/job (or merged over many)."""

    fingerprint: str
    normalized_sql: str
    database: str = "default"
    vendor: str = ""
    code_line: str = ""
    # The slowest run, with its values written in.
    sample_sql: str = ""
    sample_ms: float = 0.0
    # Run totals (QUERY_SUMS and QUERY_MAXES).
    calls: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    slow_calls: int = 0
    nplus1_hits: int = 0
    max_repeats: int = 0
    # Epoch seconds.
    first_seen: float = 0.0
    last_seen: float = 0.0

    def add_run(self, elapsed: float, *, slow: bool) -> None:
        self.calls += 1
        self.total_ms += elapsed
        self.max_ms = max(self.max_ms, elapsed)
        self.slow_calls += int(slow)

    def merge(self, other: "QueryCapture") -> None:
        if other.sample_ms > self.sample_ms or not self.sample_sql:
            self.sample_ms, self.sample_sql = other.sample_ms, other.sample_sql
        self.code_line = self.code_line or other.code_line
        query_totals_add(self, other)
        self.first_seen = min(self.first_seen, other.first_seen) if self.first_seen else other.first_seen
        self.last_seen = max(self.last_seen, other.last_seen)


# (kind, key, minute as epoch seconds) -> Cell
CellKey = tuple[str, str, int]
# (fingerprint, source kind, source) -> QueryCapture
QueryKey = tuple[str, str, str]
