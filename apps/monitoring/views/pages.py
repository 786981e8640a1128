"""The "Performance" pages inside the Django admin (staff only).

Each page renders its panel inside the admin's layout; the panel polls its own URL with
htmx every few seconds and the view answers such a poll with the panel alone.
"""

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.monitoring import charts
from apps.monitoring.models import MetricKind, SlowQuery
from apps.monitoring.selectors import database, queues
from apps.monitoring.selectors import metrics as metric_selectors
from apps.monitoring.selectors.alerts import alert_rules, alerts_open, alerts_resolved
from apps.monitoring.selectors.browser import BROWSER_METRICS, browser_pages_p75
from apps.monitoring.selectors.metrics import (
    WINDOWS,
    Summary,
    kind_total,
    summaries,
    total,
    window_get,
)
from apps.monitoring.selectors.outages import redis_outages
from apps.monitoring.selectors.slow_queries import slow_queries_costliest, slow_queries_latest
from apps.monitoring.services import silk as silk_services
from apps.monitoring.silk_sampling import armed_endpoints

REFRESH_SECONDS = 5
SLOTS = 30
TABS = [
    ("overview", "Overview"),
    ("endpoints", "Endpoints"),
    ("queries", "Slow queries"),
    ("database", "Database"),
    ("queues", "Queues"),
    ("browser", "Browser"),
    ("alerts", "Alerts"),
]


def _page(
    request: HttpRequest, *, tab: str, title: str, context: dict, panel: str | None = None
) -> HttpResponse:
    """The page of ``tab`` with its panel (templates/monitoring/_<panel or tab>.html), or only
    the panel for an htmx poll."""
    panel = f"monitoring/_{panel or tab}.html"
    window_name = context.get("window_name")
    context = {
        **admin.site.each_context(request),
        **context,
        "tab": tab,
        "tabs": TABS,
        "title": title,
        "panel_template": panel,
        "windows": list(WINDOWS),
        "refresh_seconds": REFRESH_SECONDS,
        "window_name": window_name,
    }
    if request.htmx:
        return render(request, panel, context)
    return render(request, "monitoring/page.html", context)


def _below_fold_later(request: HttpRequest) -> bool:
    """Whether the charts and tables below the fold are left out of this response.

    A visit renders the summary at once and a placeholder (templates/monitoring/_lazy.html)
    that fetches the rest as it scrolls into view; that fetch and the panel's poll are htmx
    requests, which render everything (as does ``?panels=all``, the placeholder's link
    without JS).
    """
    return not request.htmx and request.GET.get("panels") != "all"


def _staff_get(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page for staff only, read with GET."""
    return staff_member_required(require_GET(view))


def _window(request: HttpRequest) -> tuple[str, timedelta]:
    return window_get(request.GET.get("window"))


def _times(window: timedelta, now) -> list:
    return metric_selectors.slot_times(window=window, slots=SLOTS, now=now)


@_staff_get
def overview(request: HttpRequest) -> HttpResponse:
    window_name, window = _window(request)
    now = timezone.now()
    endpoints = summaries(kinds=[MetricKind.REQUEST], window=window, now=now, slots=SLOTS)
    overall = total(endpoints, kind=MetricKind.REQUEST)
    waits = kind_total(MetricKind.JOB_WAIT, window=window, now=now)
    throughput = (
        [count / (window.total_seconds() / 60 / SLOTS) for count, _ in overall.slots] if overall.slots else []
    )
    lazy = _below_fold_later(request)
    times = _times(window, now)
    chart = None if lazy else charts.line_chart([("requests/min", throughput)], times, bars=True)
    slow_count = kind_total(MetricKind.SLOW_QUERY, window=window, now=now).count
    return _page(
        request,
        tab="overview",
        title="Performance",
        context={
            "window_name": window_name,
            "lazy": lazy,
            "overall": overall,
            "waits": waits,
            "chart": chart,
            "slow_count": slow_count,
            "top": metric_selectors.sort_summaries(endpoints, "total")[1][:5],
            "cache": database.cache_hit_ratio(),
            "connections": database.connections_by_state(),
            "open_alerts": list(alerts_open()[:20]),
            "redis_outages": redis_outages(window=window, now=now),
        },
    )


@_staff_get
def endpoints(request: HttpRequest) -> HttpResponse:
    window_name, window = _window(request)
    sort, rows = metric_selectors.sort_summaries(
        summaries(kinds=[MetricKind.REQUEST], window=window, slots=SLOTS), request.GET.get("sort")
    )
    return _page(
        request,
        tab="endpoints",
        title="Endpoints",
        context={
            "window_name": window_name,
            "sort": sort,
            "rows": [(row, [p95 for _, p95 in row.slots], urlencode({"key": row.key})) for row in rows],
        },
    )


@_staff_get
def endpoint_detail(request: HttpRequest) -> HttpResponse:
    key = request.GET.get("key", "")
    if not key:
        raise Http404("No endpoint given.")
    window_name, window = _window(request)
    now = timezone.now()
    found = summaries(kinds=[MetricKind.REQUEST], window=window, now=now, key=key, slots=SLOTS)
    summary = found[0] if found else Summary(kind=MetricKind.REQUEST, key=key)
    times = _times(window, now)
    p95s = [p95 for _, p95 in summary.slots] or [None] * SLOTS
    counts = [count for count, _ in summary.slots] or [0] * SLOTS
    if _below_fold_later(request):
        below: dict = {"lazy": True}
    else:
        below = {
            "latency_chart": charts.line_chart([("p95", p95s)], times, unit=" ms"),
            "calls_chart": charts.line_chart([("calls", counts)], times, bars=True),
            "slow_queries": slow_queries_costliest(endpoint=key, limit=20),
        }
    return _page(
        request,
        tab="endpoints",
        title=f"Endpoint {key}",
        panel="endpoint_detail",
        context={
            "window_name": window_name,
            "key": key,
            "key_query": urlencode({"key": key}),
            "summary": summary,
            **below,
            "silk_armed": key in armed_endpoints(),
            "silk_left": silk_services.silk_requests_left(endpoint=key),
        },
    )


@staff_member_required
@require_POST
def endpoint_silk(request: HttpRequest) -> HttpResponse:
    """Record the endpoint's next N requests with Silk (or stop)."""
    key = request.POST.get("key", "")
    target = reverse("monitoring:endpoint") + "?" + urlencode({"key": key})
    if not key.split(" ", 1)[-1].startswith("/"):
        messages.error(request, "No endpoint given.")
        return redirect(reverse("monitoring:endpoints"))
    if request.POST.get("action") == "stop":
        silk_services.silk_disarm(endpoint=key)
        messages.success(request, f"Silk stopped recording {key}.")
        return redirect(target)
    try:
        count = int(request.POST.get("requests", "0"))
        silk_services.silk_arm(endpoint=key, requests=count)
    except ValueError as exc:
        message = str(exc) if "between" in str(exc) else "Requests must be a whole number."
        messages.error(request, message)
        return redirect(target)
    messages.success(request, f"Silk records the next {count} requests of {key}.")
    return redirect(target)


@_staff_get
def slow_queries(request: HttpRequest) -> HttpResponse:
    rows = slow_queries_latest(limit=100)
    return _page(
        request,
        tab="queries",
        title="Slow queries and N+1",
        context={"rows": rows},
    )


@_staff_get
def slow_query_detail(request: HttpRequest, query_id: int) -> HttpResponse:
    query = get_object_or_404(SlowQuery, pk=query_id)
    plan_root = None
    if (
        isinstance(query.plan, list)
        and query.plan
        and isinstance(query.plan[0], dict)
        and "Plan" in query.plan[0]
    ):
        plan_root = query.plan[0]["Plan"]
    return _page(
        request,
        tab="queries",
        title="Slow query",
        panel="query_detail",
        context={
            "query": query,
            "plan_root": plan_root,
            "source_query": urlencode({"key": query.source}),
        },
    )


@_staff_get
def database_health(request: HttpRequest) -> HttpResponse:
    health = database.database_health_cached()
    return _page(request, tab="database", title="Database health", context={"db": health})


@_staff_get
def queue_health(request: HttpRequest) -> HttpResponse:
    window_name, window = _window(request)
    now = timezone.now()
    items = queues.queues_health(window=window, now=now, slots=SLOTS)
    if _below_fold_later(request):
        below: dict = {"lazy": True}
    else:
        below = {
            "chart": charts.line_chart(
                [(f"{q.name} done/slot", q.per_minute or [0] * SLOTS) for q in items],
                _times(window, now),
                bars=False,
            ),
            "running": queues.running_jobs(),
            "dead": queues.dead_letters(),
            "clusters": queues.worker_clusters(),
            "expected_clusters": queues.expected_clusters(),
        }
    return _page(
        request,
        tab="queues",
        title="Queues",
        context={
            "window_name": window_name,
            "queues": items,
            **below,
            "utilisation": f"{settings.MONITORING_WORKER_UTILISATION:.0%}",
        },
    )


@_staff_get
def browser(request: HttpRequest) -> HttpResponse:
    window_name, window = _window(request)
    pages = browser_pages_p75(window=window)
    charts_by_metric = [
        (
            metric,
            charts.budget_bars(
                [(page.route, page.cells[n].p75, page.cells[n].budget) for page in pages], unit=metric.unit
            ),
        )
        for n, metric in enumerate(BROWSER_METRICS)
    ]
    return _page(
        request,
        tab="browser",
        title="Browser metrics",
        context={
            "window_name": window_name,
            "pages": pages,
            "metrics": BROWSER_METRICS,
            "charts": charts_by_metric,
        },
    )


@_staff_get
def alerts(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        tab="alerts",
        title="Alerts",
        context={
            "open_events": list(alerts_open()[:50]),
            "recent_events": list(alerts_resolved()[:50]),
            "rules": list(alert_rules()),
        },
    )
