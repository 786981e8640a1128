from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from apps.jobs.models import Job, Status
from apps.monitoring.models import AlertEvent, AlertMetric, AlertRule, MetricKind
from apps.monitoring.recorder import recorder
from apps.monitoring.services.alerts import alerts_evaluate
from apps.monitoring.signals import alert_opened, alert_resolved
from apps.notifications.models import Notification
from tests.monitoring.helpers import flush_and_roll_up

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def only_rule():
    """Just the rule under test (the shipped defaults stay out of the way)."""
    AlertRule.objects.update(enabled=False)

    def make(**fields) -> AlertRule:
        return AlertRule.objects.create(name=fields.pop("name", "test rule"), **fields)

    return make


@pytest.fixture
def signals():
    seen = []

    def opened(sender, event, **kwargs):
        seen.append(("opened", event.subject))

    def resolved(sender, event, **kwargs):
        seen.append(("resolved", event.subject))

    alert_opened.connect(opened)
    alert_resolved.connect(resolved)
    yield seen
    alert_opened.disconnect(opened)
    alert_resolved.disconnect(resolved)


def test_default_rules_are_shipped():
    # The data migration's function itself: a transactional test before this one may have
    # emptied the table the migration filled.
    migration = import_module("apps.monitoring.migrations.0002_default_alert_rules")
    AlertRule.objects.all().delete()
    migration.create_rules(django_apps, None)
    migration.create_rules(django_apps, None)  # twice: still one of each
    assert AlertRule.objects.count() == len(migration.DEFAULT_RULES)
    metrics = set(AlertRule.objects.values_list("metric", flat=True))
    assert metrics == set(AlertMetric.values)
    p95 = AlertRule.objects.get(metric=AlertMetric.ENDPOINT_P95_MS)
    assert (p95.threshold, p95.window_minutes) == (500, 5)


def test_slow_endpoint_opens_once_notifies_staff_and_resolves_once(only_rule, ops, signals):
    only_rule(metric=AlertMetric.ENDPOINT_P95_MS, threshold=500, window_minutes=5, min_count=10)
    now = timezone.now()
    for _ in range(30):
        recorder.observe(MetricKind.REQUEST, "GET /slow/", 800.0, at=now.timestamp() - 30)
        recorder.observe(MetricKind.REQUEST, "GET /fast/", 20.0, at=now.timestamp() - 30)
    flush_and_roll_up()

    assert alerts_evaluate(now=now) == {"opened": 1, "resolved": 0}
    assert alerts_evaluate(now=now + timedelta(minutes=1)) == {"opened": 0, "resolved": 0}
    event = AlertEvent.objects.get()
    assert event.subject == "GET /slow/" and event.is_open
    assert "GET /slow/" in event.message and "500" in event.message
    assert Notification.objects.filter(recipient=ops, event="alert.opened").count() == 1

    # Ten minutes on, the five-minute window holds no slow requests: resolved, once.
    later = now + timedelta(minutes=10)
    assert alerts_evaluate(now=later) == {"opened": 0, "resolved": 1}
    assert alerts_evaluate(now=later + timedelta(minutes=1)) == {"opened": 0, "resolved": 0}
    event.refresh_from_db()
    assert event.resolved_at == later
    assert signals == [("opened", "GET /slow/"), ("resolved", "GET /slow/")]
    assert Notification.objects.filter(recipient=ops, event="alert.resolved").count() == 1


def test_a_value_hovering_at_the_threshold_does_not_flap(only_rule):
    only_rule(metric=AlertMetric.ERROR_RATE, threshold=10, window_minutes=5, min_count=10)
    now = timezone.now()
    for number in range(100):
        recorder.observe(MetricKind.REQUEST, "GET /x/", 5.0, error=number < 12, at=now.timestamp() - 60)
    flush_and_roll_up()
    assert alerts_evaluate(now=now)["opened"] == 1
    # 9.5% is under the threshold but above the 90% hysteresis line: it stays open.
    for _ in range(26):
        recorder.observe(MetricKind.REQUEST, "GET /x/", 5.0, at=now.timestamp() - 60)
    flush_and_roll_up()
    assert alerts_evaluate(now=now) == {"opened": 0, "resolved": 0}
    assert AlertEvent.objects.filter(resolved_at__isnull=True).count() == 1


def test_dead_letters_open_an_alert(only_rule):
    only_rule(metric=AlertMetric.DEAD_LETTERS, threshold=0, window_minutes=15, min_count=0)
    assert alerts_evaluate() == {"opened": 0, "resolved": 0}
    Job.objects.create(kind="diagnostics.fail", status=Status.DEAD, timeout=30, finished_at=timezone.now())
    assert alerts_evaluate()["opened"] == 1
    assert AlertEvent.objects.get().subject == "all"


def test_slow_query_rate_counts_slow_queries_per_minute(only_rule):
    only_rule(metric=AlertMetric.SLOW_QUERY_RATE, threshold=1, window_minutes=5, min_count=0)
    now = timezone.now()
    for _ in range(10):
        recorder.observe(MetricKind.SLOW_QUERY, "GET /x/", 300.0, at=now.timestamp() - 30)
    flush_and_roll_up()
    assert alerts_evaluate(now=now)["opened"] == 1  # 2 per minute > 1


def test_alerts_page_lists_open_events(only_rule, ops_client):
    rule = only_rule(metric=AlertMetric.DEAD_LETTERS, threshold=0)
    AlertEvent.objects.create(
        rule=rule,
        opened_at=timezone.now(),
        value_at_open=3,
        last_value=3,
        peak_value=3,
        message="Dead jobs: 3",
    )
    assert "Dead jobs: 3" in ops_client.get("/monitoring/alerts/").content.decode()
    assert ops_client.get("/api/monitoring/alerts").json()["items"][0]["message"] == "Dead jobs: 3"
