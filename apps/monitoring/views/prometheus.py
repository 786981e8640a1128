"""/metrics in the Prometheus text format (prometheus_client), for a scraper.

Figures come from the rolled-up metrics over the last five minutes (every web process's
and worker's), as gauges: per endpoint rate, error rate and p50/p95/p99; per queue
depth, running, dead letters, wait p95 and throughput; open alerts. Access: the bearer
token MONITORING_METRICS_TOKEN, or a client address in MONITORING_METRICS_ALLOWED_IPS.
"""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from apps.core.access import has_metrics_token
from apps.monitoring.models import MetricKind
from apps.monitoring.selectors import queues
from apps.monitoring.selectors.alerts import alerts_open
from apps.monitoring.selectors.metrics import summaries

WINDOW = timedelta(minutes=5)


def _allowed(request: HttpRequest) -> bool:
    return (
        has_metrics_token(request)
        or request.META.get("REMOTE_ADDR", "") in settings.MONITORING_METRICS_ALLOWED_IPS
    )


class TempoCollector:
    def collect(self):
        endpoint_labels = ["endpoint"]
        rate = GaugeMetricFamily(
            "tempo_http_requests_per_second", "Requests per second (5 min)", labels=endpoint_labels
        )
        errors = GaugeMetricFamily(
            "tempo_http_server_error_ratio", "Share of 5xx responses (5 min)", labels=endpoint_labels
        )
        latency = GaugeMetricFamily(
            "tempo_http_request_duration_seconds",
            "Request duration quantiles (5 min)",
            labels=["endpoint", "quantile"],
        )
        for item in summaries(kinds=[MetricKind.REQUEST], window=WINDOW):
            rate.add_metric([item.key], item.count / WINDOW.total_seconds())
            errors.add_metric([item.key], item.errors / item.count if item.count else 0.0)
            for name, value in (("0.5", item.p50), ("0.95", item.p95), ("0.99", item.p99)):
                if value is not None:
                    latency.add_metric([item.key, name], value / 1000.0)
        yield from (rate, errors, latency)

        families = {
            "queued": GaugeMetricFamily("tempo_jobs_queued", "Jobs queued (Job table)", labels=["queue"]),
            "running": GaugeMetricFamily("tempo_jobs_running", "Jobs running", labels=["queue"]),
            "dead": GaugeMetricFamily("tempo_jobs_dead", "Jobs in dead letters", labels=["queue"]),
            "oldest": GaugeMetricFamily(
                "tempo_jobs_oldest_queued_seconds", "Age of the oldest queued job", labels=["queue"]
            ),
            "wait": GaugeMetricFamily(
                "tempo_jobs_wait_p95_seconds", "Job wait p95 (5 min)", labels=["queue"]
            ),
            "done": GaugeMetricFamily(
                "tempo_jobs_succeeded_per_minute", "Jobs succeeded per minute (5 min)", labels=["queue"]
            ),
        }
        for health in queues.queues_health(window=WINDOW, slots=0, with_broker=False):
            families["queued"].add_metric([health.name], health.queued)
            families["running"].add_metric([health.name], health.running)
            families["dead"].add_metric([health.name], health.dead)
            families["oldest"].add_metric([health.name], health.oldest_queued_seconds or 0.0)
            if health.wait and health.wait.p95 is not None:
                families["wait"].add_metric([health.name], health.wait.p95 / 1000.0)
            families["done"].add_metric([health.name], health.throughput_per_minute)
        yield from families.values()

        alerts = GaugeMetricFamily("tempo_alerts_open", "Open alert events", labels=["severity"])
        counts: dict[str, int] = {}
        for severity in alerts_open().values_list("rule__severity", flat=True):
            counts[severity] = counts.get(severity, 0) + 1
        for severity, count in sorted(counts.items()):
            alerts.add_metric([severity], count)
        yield alerts


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        if not settings.MONITORING_METRICS_TOKEN and not settings.MONITORING_METRICS_ALLOWED_IPS:
            message = "Metrics are off: set MONITORING_METRICS_TOKEN or MONITORING_METRICS_ALLOWED_IPS."
        else:
            message = "Send 'Authorization: Bearer <MONITORING_METRICS_TOKEN>' from an allowed address."
        response = JsonResponse(
            {"message": message}, status=401 if settings.MONITORING_METRICS_TOKEN else 403
        )
        if settings.MONITORING_METRICS_TOKEN:
            response["WWW-Authenticate"] = "Bearer"
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TempoCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
