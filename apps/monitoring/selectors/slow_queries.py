"""Slow queries for lists (pages, the API, perf_report): without the bulky columns a list
never shows (the plan, the sample and why it was not explained)."""

from apps.monitoring.models import SlowQuery

LIST_DEFERRED = ("plan", "sample_sql", "plan_error")


def slow_queries_latest(*, limit: int) -> list[SlowQuery]:
    """Most recently seen first (then most total time)."""
    return list(SlowQuery.objects.defer(*LIST_DEFERRED).order_by("-last_seen", "-total_ms")[:limit])


def slow_queries_costliest(*, endpoint: str | None = None, limit: int) -> list[SlowQuery]:
    """Most total time first; only those of ``endpoint``'s requests if given."""
    queries = SlowQuery.objects.defer(*LIST_DEFERRED)
    if endpoint is not None:
        queries = queries.filter(source_kind=SlowQuery.Source.REQUEST, source=endpoint)
    return list(queries.order_by("-total_ms")[:limit])
