"""Redis outages for the performance overview: circuits opening and closing are recorded in
the database, merged into outages and shown; metrics flush to the database meanwhile."""

from datetime import timedelta

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from apps.core.circuit import Circuit
from apps.monitoring.models import MetricKind, MetricRollup, RedisOutage
from apps.monitoring.recorder import recorder
from apps.monitoring.selectors.outages import redis_outages
from apps.monitoring.services import metrics
from apps.monitoring.services.outages import redis_outage_record

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_circuit_opening_and_closing_is_one_row():
    circuit = Circuit("cache", retry_after=lambda: 60.0)
    circuit.failed(redis.ConnectionError("refused"))
    circuit.failed(redis.ConnectionError("refused again"))
    (row,) = RedisOutage.objects.all()
    assert row.component == "cache" and row.ended_at is None and "refused" in row.error
    circuit.succeeded()
    row.refresh_from_db()
    assert row.ended_at is not None and row.ended_at >= row.started_at


def test_an_opening_inside_a_rolled_back_transaction_is_still_recorded(requires_postgres):
    # (SQLite would lock the second connection out while the first one writes.)
    with pytest.raises(RuntimeError), transaction.atomic():
        redis_outage_record(component="broker", opened=True, error="refused")
        raise RuntimeError("the request failed")
    assert RedisOutage.objects.filter(component="broker", ended_at__isnull=True).count() == 1


def test_a_closing_ends_every_processs_open_row_of_that_component():
    now = timezone.now()
    RedisOutage.objects.create(component="cache", process="web-1:1", started_at=now)
    RedisOutage.objects.create(component="cache", process="web-2:2", started_at=now)
    RedisOutage.objects.create(component="broker", process="web-2:2", started_at=now)
    redis_outage_record(component="cache", opened=False)
    assert list(RedisOutage.objects.filter(ended_at__isnull=True).values_list("component", flat=True)) == [
        "broker"
    ]


def test_overlapping_rows_are_one_outage_and_apart_ones_two():
    now = timezone.now()
    at = lambda seconds: now - timedelta(seconds=seconds)  # noqa: E731
    RedisOutage.objects.create(component="cache", process="a:1", started_at=at(100), ended_at=at(70))
    RedisOutage.objects.create(component="broker", process="b:2", started_at=at(99), ended_at=at(60))
    RedisOutage.objects.create(component="cache", process="c:3", started_at=at(30), ended_at=None)
    RedisOutage.objects.create(component="cache", process="d:4", started_at=at(7200), ended_at=at(7100))

    latest, earlier = redis_outages(window=timedelta(hours=1), now=now)
    assert latest.started_at == at(30) and latest.ended_at is None and latest.names == "cache"
    assert (earlier.started_at, earlier.ended_at) == (at(100), at(60))
    assert earlier.names == "broker, cache"


def test_the_overview_shows_the_outage(ops_client):
    now = timezone.now()
    RedisOutage.objects.create(
        component="cache",
        process="a:1",
        started_at=now - timedelta(seconds=40),
        ended_at=now - timedelta(seconds=10),
    )
    RedisOutage.objects.create(component="broker", process="a:1", started_at=now - timedelta(seconds=39))
    page = ops_client.get("/monitoring/")
    assert page.status_code == 200
    assert "Redis unreachable from" in page.content.decode()
    assert "(broker, cache)" in page.content.decode()


def test_the_overview_is_for_staff_only(alice_client):
    assert alice_client.get("/monitoring/").status_code in (302, 403)


def test_metrics_flush_to_the_database_while_redis_is_unreachable(settings, monkeypatch):
    suite_redis = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"  # nothing listens there
    monkeypatch.setattr(metrics._local, "client", None, raising=False)
    metrics.redis_circuit.reset()
    recorder.reset()
    recorder.observe(MetricKind.REQUEST, "GET /redis-down/", 12.0)
    try:
        assert recorder.flush() == 1
        assert metrics.redis_circuit.is_open
        recorder.observe(MetricKind.REQUEST, "GET /redis-down/", 30.0)
        assert recorder.flush() == 1  # the circuit is open: straight to the database
    finally:
        # Back before the teardown's clean-up of the suite's Redis (settings' own comes later).
        settings.REDIS_URL = suite_redis
        metrics.redis_circuit.reset()
        monkeypatch.setattr(metrics._local, "client", None, raising=False)
    rows = MetricRollup.objects.filter(kind=MetricKind.REQUEST, key="GET /redis-down/")
    assert sum(rows.values_list("count", flat=True)) == 2
    assert RedisOutage.objects.filter(component="metrics").exists()
