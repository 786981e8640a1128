"""The performance figures as JSON under /api/monitoring/ (staff only)."""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router
from ninja.errors import HttpError

from apps.monitoring.models import BROWSER_KINDS, AlertEvent, MetricKind, SlowQuery
from apps.monitoring.selectors import database, queues
from apps.monitoring.selectors.metrics import sort_summaries, summaries, total, window_get

router = Router(tags=["monitoring"])

MAX_LIMIT = 500


def _staff(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise HttpError(403, "Staff only: the performance figures are for operators.")


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise HttpError(422, f"Invalid input: limit must be from 1 to {MAX_LIMIT}.")
    return limit


def _window(name: str | None):
    if name is not None and window_get(name)[0] != name:
        raise HttpError(422, "Invalid input: window must be one of 15m, 1h, 24h, 7d.")
    return window_get(name)


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


@router.get("/overview")
def overview(request: HttpRequest, window: str | None = None):
    _staff(request)
    name, span = _window(window)
    requests_total = total(summaries(kinds=[MetricKind.REQUEST], window=span))
    waits = total(summaries(kinds=[MetricKind.JOB_WAIT], window=span))
    return {
        "window": name,
        "requests": requests_total.as_dict(),
        "job_wait_p95_ms": waits.p95,
        "slow_queries": total(summaries(kinds=[MetricKind.SLOW_QUERY], window=span)).count,
        "cache_hit_ratio": (database.cache_hit_ratio() or {}).get("database_percent"),
        "open_alerts": AlertEvent.objects.filter(resolved_at__isnull=True).count(),
    }


@router.get("/endpoints")
def endpoints(request: HttpRequest, window: str | None = None, sort: str = "p95", limit: int = 100):
    _staff(request)
    name, span = _window(window)
    sort_name, rows = sort_summaries(summaries(kinds=[MetricKind.REQUEST], window=span), sort)
    return {"window": name, "sort": sort_name, "items": [row.as_dict() for row in rows[: _limit(limit)]]}


@router.get("/endpoints/detail")
def endpoint_detail(request: HttpRequest, key: str, window: str | None = None):
    _staff(request)
    name, span = _window(window)
    found = summaries(kinds=[MetricKind.REQUEST], window=span, key=key, slots=30)
    if not found:
        raise HttpError(404, f"No requests of {key!r} in the last {name}.")
    item = found[0]
    return {
        "window": name,
        **item.as_dict(),
        "timeline": [{"count": count, "p95_ms": p95} for count, p95 in item.slots],
        "slow_queries": [
            _query_dict(q)
            for q in SlowQuery.objects.filter(source_kind="request", source=key).order_by("-total_ms")[:20]
        ],
    }


@router.get("/slow-queries")
def slow_queries(request: HttpRequest, limit: int = 100):
    _staff(request)
    rows = SlowQuery.objects.defer("plan", "sample_sql").order_by("-last_seen", "-total_ms")[: _limit(limit)]
    return {"items": [_query_dict(row) for row in rows]}


@router.get("/slow-queries/{query_id}")
def slow_query(request: HttpRequest, query_id: int):
    _staff(request)
    return _query_dict(get_object_or_404(SlowQuery, pk=query_id), with_plan=True)


@router.get("/database")
def database_health(request: HttpRequest):
    _staff(request)
    return database.database_health_cached()


@router.get("/queues")
def queue_health(request: HttpRequest, window: str | None = None):
    _staff(request)
    name, span = _window(window)
    return {
        "window": name,
        "queues": [item.as_dict() for item in queues.queues_health(window=span, slots=0)],
        "clusters": queues.worker_clusters(),
        "expected_clusters": queues.expected_clusters(),
    }


@router.get("/browser")
def browser(request: HttpRequest, window: str | None = None):
    _staff(request)
    name, span = _window(window)
    pages: dict[str, dict] = {}
    for item in summaries(kinds=list(BROWSER_KINDS), window=span):
        page = pages.setdefault(item.key, {"route": item.key})
        page[str(item.kind)] = {"count": item.count, "p75": item.p75, "p95": item.p95}
    return {"window": name, "items": list(pages.values())}


@router.get("/alerts")
def alerts(request: HttpRequest, limit: int = 100):
    _staff(request)
    rows = AlertEvent.objects.select_related("rule").order_by("resolved_at", "-opened_at")[: _limit(limit)]
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
