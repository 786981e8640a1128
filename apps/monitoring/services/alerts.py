"""Alert rules, evaluated every minute (the monitoring.alerts job).

1. Each enabled rule's metric is measured per subject (an endpoint, a queue, a replica, or
   "all") over the rule's window.
2. A subject above the threshold with no open event opens one — once: the database allows
   one open event per rule and subject — and staff are notified.
3. An open event whose subject fell back to 90% of the threshold or below (hysteresis: a
   value hovering at the threshold does not open and resolve it every minute), or has no
   data any more, is resolved, and staff are told once.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.monitoring.models import AlertEvent, AlertMetric, AlertRule, MetricKind
from apps.monitoring.selectors import database, queues
from apps.monitoring.selectors.alerts import alerts_open
from apps.monitoring.selectors.metrics import kind_total, summaries
from apps.monitoring.signals import alert_opened, alert_resolved
from apps.notifications.services import notify

logger = logging.getLogger("apps.monitoring")

RESOLVE_BELOW = 0.9
UNITS = {
    AlertMetric.ENDPOINT_P95_MS: "ms",
    AlertMetric.ERROR_RATE: "%",
    AlertMetric.QUEUE_WAIT_P95_MS: "ms",
    AlertMetric.DEAD_LETTERS: " jobs",
    AlertMetric.JOB_FAILURE_RATE: "%",
    AlertMetric.REPLICA_LAG_S: "s",
    AlertMetric.WORKERS_MISSING: " clusters",
    AlertMetric.SLOW_QUERY_RATE: "/min",
}


def metric_values(rule: AlertRule, *, now: datetime) -> dict[str, float]:
    """{subject: value} for the rule's metric over its window (subjects with enough data only)."""
    window = timedelta(minutes=rule.window_minutes)
    metric = rule.metric
    if metric == AlertMetric.ENDPOINT_P95_MS:
        return {
            s.key: s.p95
            for s in summaries(kinds=[MetricKind.REQUEST], window=window, now=now)
            if s.count >= rule.min_count and s.p95 is not None
        }
    if metric == AlertMetric.ERROR_RATE:
        overall = kind_total(MetricKind.REQUEST, window=window, now=now)
        return {"all": overall.error_rate} if overall.count >= max(rule.min_count, 1) else {}
    if metric in (AlertMetric.QUEUE_WAIT_P95_MS, AlertMetric.JOB_FAILURE_RATE):
        values = {}
        for health in queues.queues_health(window=window, now=now, slots=0, with_broker=False):
            if metric == AlertMetric.QUEUE_WAIT_P95_MS:
                if health.wait and health.wait.count >= rule.min_count and health.wait.p95 is not None:
                    values[health.name] = health.wait.p95
            elif health.succeeded + health.failures >= max(rule.min_count, 1):
                values[health.name] = health.failure_rate
        return values
    if metric == AlertMetric.DEAD_LETTERS:
        return {"all": float(queues.dead_letters_since(since=now - window))}
    if metric == AlertMetric.REPLICA_LAG_S:
        return {alias: lag for alias, lag in database.replica_lags().items() if lag is not None}
    if metric == AlertMetric.WORKERS_MISSING:
        clusters = queues.worker_clusters()
        if clusters is None:
            return {}
        return {"all": float(max(queues.expected_clusters() - len(clusters), 0))}
    if metric == AlertMetric.SLOW_QUERY_RATE:
        slow = kind_total(MetricKind.SLOW_QUERY, window=window, now=now)
        return {"all": slow.count / rule.window_minutes}
    raise ValueError(f"Unknown alert metric {metric!r}")


def _message(rule: AlertRule, subject: str, value: float, *, opened: bool) -> str:
    unit = UNITS.get(rule.metric, "")
    where = "" if subject == "all" else f" — {subject}"
    if opened:
        return f"{rule.name}{where}: {value:,.1f}{unit} (threshold {rule.threshold:,g}{unit})"[:500]
    return f"Resolved: {rule.name}{where} (now {value:,.1f}{unit})"[:500]


def _notify(event: AlertEvent, *, opened: bool) -> None:
    (alert_opened if opened else alert_resolved).send(sender=AlertEvent, event=event)
    severity = event.rule.severity
    level = "success" if not opened else ("error" if severity == "critical" else severity)
    notify(
        staff=True,
        event="alert.opened" if opened else "alert.resolved",
        title=event.message
        if opened
        else _message(event.rule, event.subject, event.last_value, opened=False),
        body=f"{event.rule.get_metric_display()} over {event.rule.window_minutes} min; severity {severity}.",
        link=reverse("monitoring:alerts"),
        level=level,
    )


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    opened = resolved = 0
    for rule in AlertRule.objects.filter(enabled=True):
        try:
            values = metric_values(rule, now=now)
        except Exception:
            # One broken source (a replica down, Redis away) must not stop the other rules.
            logger.exception("monitoring: alert rule %s could not be measured", rule.pk)
            continue
        open_events = {event.subject: event for event in alerts_open(rule=rule)}
        for subject, value in values.items():
            event = open_events.get(subject)
            if event is not None:
                event.last_value = value
                event.peak_value = max(event.peak_value, value)
                event.save(update_fields=["last_value", "peak_value"])
            elif value > rule.threshold:
                event = _open(rule, subject, value, now)
                if event is not None:
                    opened += 1
        for subject, event in open_events.items():
            value = values.get(subject)
            if value is None or value <= rule.threshold * RESOLVE_BELOW:
                event.resolved_at = now
                if value is not None:
                    event.last_value = value
                event.save(update_fields=["resolved_at", "last_value"])
                transaction.on_commit(lambda event=event: _notify(event, opened=False))
                resolved += 1
    return {"opened": opened, "resolved": resolved}


def _open(rule: AlertRule, subject: str, value: float, now: datetime) -> AlertEvent | None:
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(
                rule=rule,
                subject=subject[:300],
                opened_at=now,
                value_at_open=value,
                last_value=value,
                peak_value=value,
                message=_message(rule, subject, value, opened=True),
            )
    except IntegrityError:
        return None  # another evaluation opened it a moment ago
    logger.info("monitoring: alert opened: %s", event.message)
    transaction.on_commit(lambda: _notify(event, opened=True))
    return event
