"""The performance figures as JSON under /api/monitoring/ (staff only).

Every answer is documented, errors included: 401 without credentials, 403 for non-staff,
404 for an unknown slow query or endpoint, 422 for invalid input, each ``{"message": …}``.
"""

import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema
from ninja.errors import HttpError

from apps.core import api as core_api
from apps.core.api import ErrorOut
from apps.core.cursor import MAX_ID
from apps.monitoring.models import MetricKind, SlowQuery
from apps.monitoring.selectors import database, queues
from apps.monitoring.selectors.alerts import alerts_open, alerts_open_first
from apps.monitoring.selectors.metrics import (
    WINDOWS,
    browser_pages,
    kind_total,
    sort_summaries,
    summaries,
    window_get,
)
from apps.monitoring.selectors.slow_queries import slow_queries_costliest, slow_queries_latest

STAFF_ONLY = "Staff only: the performance figures are for operators."


class _StaffOnly:
    """An API authenticator that also answers 403 to anyone but staff.

    As authentication, it runs before the input is read: a non-staff caller learns that
    the figures are not theirs, never which parameters are wrong.
    """

    def __call__(self, request: HttpRequest):
        user = super().__call__(request)
        if user and not user.is_staff:
            raise HttpError(403, STAFF_ONLY)
        return user


# Named as the API's own: the OpenAPI document names its security schemes after the class.
class TokenAuth(_StaffOnly, core_api.TokenAuth):
    pass


class SessionAuth(_StaffOnly, core_api.SessionAuth):
    pass


router = Router(tags=["monitoring"], auth=[TokenAuth(), SessionAuth(csrf=True)])

MAX_LIMIT = 500

WindowName = Literal[tuple(WINDOWS)]  # type: ignore[valid-type]


# Non-staff get 403 before their input is read.
ERRORS = {**core_api.ERRORS, 403: ErrorOut}


class WindowQuery(Schema):
    window: WindowName | None = Field(None, description="15m, 1h (default), 24h or 7d.")


class ListQuery(Schema):
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description=f"At most this many items (1 to {MAX_LIMIT}).")


class EndpointsQuery(WindowQuery, ListQuery):
    sort: str = Field(
        "p95",
        max_length=20,
        description="p50, p95, p99, calls, errors, queries or total (descending); others sort by p95.",
    )


class EndpointQuery(WindowQuery):
    key: str = Field(min_length=1, max_length=300, description="The endpoint: method and route.")


class SummaryOut(Schema):
    key: str
    count: int
    errors: int
    client_errors: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    queries_per_call: float
    per_minute: float
    counters: dict[str, int]


class OverviewOut(Schema):
    window: str
    requests: SummaryOut
    job_wait_p95_ms: float | None
    slow_queries: int
    cache_hit_ratio: float | None
    open_alerts: int


class EndpointsOut(Schema):
    window: str
    sort: str
    items: list[SummaryOut]


class SlowQueryOut(Schema):
    id: int
    source_kind: str
    source: str
    normalized_sql: str
    code_line: str
    calls: int
    slow_calls: int
    nplus1_hits: int
    max_repeats: int
    max_ms: float
    mean_ms: float
    first_seen: datetime.datetime
    last_seen: datetime.datetime
    explained_at: datetime.datetime | None


class SlowQueryDetailOut(SlowQueryOut):
    sample_sql: str
    sample_ms: float
    plan: Any = Field(description="EXPLAIN output (JSON) once explained, else null.")
    plan_error: str


class SlowQueriesOut(Schema):
    items: list[SlowQueryOut]


class TimelinePointOut(Schema):
    count: int
    p95_ms: float | None


class EndpointDetailOut(SummaryOut):
    window: str
    timeline: list[TimelinePointOut]
    slow_queries: list[SlowQueryOut]


class DatabaseOut(Schema):
    postgres: bool
    statements: list[dict[str, Any]] | None
    statements_help: str
    cache: dict[str, Any] | None
    connections: list[dict[str, Any]] | None
    long_running: list[dict[str, Any]] | None
    blocking: list[dict[str, Any]] | None
    tables: list[dict[str, Any]] | None
    unused_indexes: list[dict[str, Any]] | None
    duplicate_indexes: list[dict[str, Any]] | None
    replication: dict[str, Any] | None


class QueueOut(Schema):
    queue: str
    configured_workers: int
    recommended_workers: int | None
    queued: int
    broker_depth: int | None
    running: int
    retry_pending: int
    scheduled: int
    dead: int
    oldest_queued_seconds: float | None
    throughput_per_minute: float
    failure_rate: float
    arrival_per_second: float
    mean_run_seconds: float | None
    wait_p95_ms: float | None
    run_p95_ms: float | None


class ClusterOut(Schema):
    cluster_id: str
    host: str
    pid: int
    status: str
    workers: int
    uptime_seconds: float | None
    queues: list[str]


class QueuesOut(Schema):
    window: str
    queues: list[QueueOut]
    clusters: list[ClusterOut] | None = Field(description="Live clusters; null without Redis.")
    expected_clusters: int


class BrowserOut(Schema):
    window: str
    items: list[dict[str, Any]] = Field(
        description="Per page route: `route` and, per browser metric, its count, p75 and p95."
    )


class AlertOut(Schema):
    id: int
    rule: str
    metric: str
    severity: str
    subject: str
    message: str
    opened_at: datetime.datetime
    resolved_at: datetime.datetime | None
    last_value: float
    peak_value: float


class AlertsOut(Schema):
    now: datetime.datetime
    items: list[AlertOut]


def _query_dict(query: SlowQuery, *, with_plan: bool = False) -> dict:
    data = {
        "id": query.pk,
        "source_kind": query.source_kind,
        "source": query.source,
        "normalized_sql": query.normalized_sql,
        "code_line": query.code_line,
        "calls": query.calls,
        "slow_calls": query.slow_calls,
        "nplus1_hits": query.nplus1_hits,
        "max_repeats": query.max_repeats,
        "max_ms": round(query.max_ms, 3),
        "mean_ms": round(query.mean_ms, 3),
        "first_seen": query.first_seen,
        "last_seen": query.last_seen,
        "explained_at": query.explained_at,
    }
    if with_plan:
        data.update(
            sample_sql=query.sample_sql,
            sample_ms=query.sample_ms,
            plan=query.plan,
            plan_error=query.plan_error,
        )
    return data


@router.get("/overview", response={200: OverviewOut, **ERRORS}, summary="Requests, job waits and alerts")
def overview(request: HttpRequest, query: Query[WindowQuery]):
    name, span = window_get(query.window)
    requests_total = kind_total(MetricKind.REQUEST, window=span)
    waits = kind_total(MetricKind.JOB_WAIT, window=span)
    return {
        "window": name,
        "requests": requests_total.as_dict(),
        "job_wait_p95_ms": waits.p95,
        "slow_queries": kind_total(MetricKind.SLOW_QUERY, window=span).count,
        "cache_hit_ratio": (database.cache_hit_ratio() or {}).get("database_percent"),
        "open_alerts": alerts_open().count(),
    }


@router.get("/endpoints", response={200: EndpointsOut, **ERRORS}, summary="Endpoints by latency or volume")
def endpoints(request: HttpRequest, query: Query[EndpointsQuery]):
    name, span = window_get(query.window)
    sort_name, rows = sort_summaries(summaries(kinds=[MetricKind.REQUEST], window=span), query.sort)
    return {"window": name, "sort": sort_name, "items": [row.as_dict() for row in rows[: query.limit]]}


@router.get(
    "/endpoints/detail",
    response={200: EndpointDetailOut, 404: ErrorOut, **ERRORS},
    summary="One endpoint: figures, timeline and its slow queries",
)
def endpoint_detail(request: HttpRequest, query: Query[EndpointQuery]):
    name, span = window_get(query.window)
    found = summaries(kinds=[MetricKind.REQUEST], window=span, key=query.key, slots=30)
    if not found:
        raise HttpError(404, f"No requests of {query.key!r} in the last {name}.")
    item = found[0]
    return {
        "window": name,
        **item.as_dict(),
        "timeline": [{"count": count, "p95_ms": p95} for count, p95 in item.slots],
        "slow_queries": [_query_dict(q) for q in slow_queries_costliest(endpoint=query.key, limit=20)],
    }


@router.get("/slow-queries", response={200: SlowQueriesOut, **ERRORS}, summary="Slow queries, latest first")
def slow_queries(request: HttpRequest, query: Query[ListQuery]):
    rows = slow_queries_latest(limit=query.limit)
    return {"items": [_query_dict(row) for row in rows]}


@router.get(
    "/slow-queries/{query_id}",
    response={200: SlowQueryDetailOut, 404: ErrorOut, **ERRORS},
    summary="A slow query with its sample and plan",
)
def slow_query(request: HttpRequest, query_id: int = Path(..., ge=1, le=MAX_ID)):
    return _query_dict(get_object_or_404(SlowQuery, pk=query_id), with_plan=True)


@router.get("/database", response={200: DatabaseOut, **ERRORS}, summary="Database health panels")
def database_health(request: HttpRequest):
    return database.database_health_cached()


@router.get("/queues", response={200: QueuesOut, **ERRORS}, summary="Job queues and worker clusters")
def queue_health(request: HttpRequest, query: Query[WindowQuery]):
    name, span = window_get(query.window)
    return {
        "window": name,
        "queues": [item.as_dict() for item in queues.queues_health(window=span, slots=0)],
        "clusters": queues.worker_clusters(),
        "expected_clusters": queues.expected_clusters(),
    }


@router.get("/browser", response={200: BrowserOut, **ERRORS}, summary="Page load figures from browsers")
def browser(request: HttpRequest, query: Query[WindowQuery]):
    name, span = window_get(query.window)
    items = [
        {
            "route": route,
            **{str(kind): {"count": s.count, "p75": s.p75, "p95": s.p95} for kind, s in kinds.items()},
        }
        for route, kinds in browser_pages(window=span).items()
    ]
    return {"window": name, "items": items}


@router.get("/alerts", response={200: AlertsOut, **ERRORS}, summary="Alerts, open ones first")
def alerts(request: HttpRequest, query: Query[ListQuery]):
    rows = alerts_open_first()[: query.limit]
    return {
        "now": timezone.now(),
        "items": [
            {
                "id": event.pk,
                "rule": event.rule.name,
                "metric": event.rule.metric,
                "severity": event.rule.severity,
                "subject": event.subject,
                "message": event.message,
                "opened_at": event.opened_at,
                "resolved_at": event.resolved_at,
                "last_value": event.last_value,
                "peak_value": event.peak_value,
            }
            for event in rows
        ],
    }
