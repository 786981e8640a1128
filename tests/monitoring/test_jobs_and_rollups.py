from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from apps.jobs import runner, services
from apps.jobs.models import Job
from apps.monitoring.histogram import bucket_index
from apps.monitoring.models import HOUR, MINUTE, MetricKind, MetricRollup, SlowQuery
from apps.monitoring.recorder import recorder
from apps.monitoring.selectors.metrics import rollups_in_window, summaries
from apps.monitoring.selectors.queues import queues_health
from apps.monitoring.series import Cell
from apps.monitoring.services.metrics import metrics_fold, metrics_store
from tests.monitoring.helpers import flush_and_roll_up


@pytest.mark.django_db(transaction=True)
def test_job_run_and_wait_are_recorded_per_queue_and_kind(published, settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 60
    for _ in range(3):
        runner.execute(services.enqueue("diagnostics.noop", params={}).pk)
    flush_and_roll_up()
    run = MetricRollup.objects.get(kind=MetricKind.JOB_RUN, key="default:diagnostics.noop")
    wait = MetricRollup.objects.get(kind=MetricKind.JOB_WAIT, key="default:diagnostics.noop")
    assert run.count == 3 and run.counters == {"succeeded": 3}
    assert wait.count == 3


@pytest.mark.django_db(transaction=True)
def test_retries_and_dead_letters_count_as_failures(published, settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 60
    job = services.enqueue("diagnostics.fail", params={"times": 5})
    for _ in range(3):
        runner.execute(job.pk)
        job.refresh_from_db()
        services.jobs_publish_due(now=job.run_at or job.created_at)
    flush_and_roll_up()
    run = MetricRollup.objects.get(kind=MetricKind.JOB_RUN, key="default:diagnostics.fail")
    assert run.counters == {"retries": 2, "dead": 1}
    assert run.errors == 3
    health = {q["queue"]: q for q in _queues_json()}
    assert health["default"]["failure_rate"] == 100.0


def _queues_json():
    return [q.as_dict() for q in queues_health(window=timedelta(hours=1), with_broker=False)]


@pytest.mark.django_db(transaction=True)
def test_job_queries_are_watched_and_named_after_the_job(published, settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 60
    settings.MONITORING_NPLUS1_THRESHOLD = 0  # every repeated statement counts
    runner.execute(services.enqueue("diagnostics.noop", params={}).pk)
    flush_and_roll_up()
    assert SlowQuery.objects.filter(source_kind="job", source="default:diagnostics.noop").exists()


@pytest.mark.django_db
def test_fold_makes_hours_and_windows_count_each_request_once():
    now = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    for minutes_ago in (150, 140, 80, 20, 5):
        recorder.observe(
            MetricKind.REQUEST, "GET /x/", 10.0, at=(now - timedelta(minutes=minutes_ago)).timestamp()
        )
    flush_and_roll_up()
    result = metrics_fold(now=now)
    assert result["hours_folded"] == 2  # 10:00 and 11:00; 12:00 is not over yet
    hours = MetricRollup.objects.filter(resolution=HOUR).order_by("start")
    assert [(h.start.hour, h.count) for h in hours] == [(10, 2), (11, 1)]
    assert MetricRollup.objects.filter(resolution=MINUTE).count() == 5  # kept for 48 hours
    # 24 hours: the folded hours plus the minutes since; nothing counted twice.
    assert summaries(kinds=[MetricKind.REQUEST], window=timedelta(hours=24), now=now)[0].count == 5
    rows = rollups_in_window(kinds=[MetricKind.REQUEST], start=now - timedelta(hours=24), end=now)
    assert {r.resolution for r in rows} == {HOUR, MINUTE}
    # A second fold changes nothing; minutes past retention go.
    assert metrics_fold(now=now)["hours_folded"] == 2
    assert MetricRollup.objects.filter(resolution=HOUR).count() == 2
    assert metrics_fold(now=now + timedelta(hours=49))["minutes_deleted"] == 5


@pytest.mark.django_db
def test_perf_report_prints_endpoints_and_slow_queries(capsys, alice_client, settings):
    settings.MONITORING_SLOW_QUERY_MS = 0  # every statement is "slow"
    alice_client.get("/jobs/")
    flush_and_roll_up()
    call_command("perf_report", "--window", "15m")
    out = capsys.readouterr().out
    assert "GET /jobs/" in out and "p95 ms" in out
    assert "Slow queries" in out and "jobs_job" in out


@pytest.mark.django_db
def test_perf_report_refuses_a_bad_window():
    with pytest.raises(CommandError, match="--window must be one of"):
        call_command("perf_report", "--window", "2y")


@pytest.mark.django_db
def test_queues_page_shows_depth_and_recommended_workers(ops_client, published):
    Job.objects.create(kind="diagnostics.noop", timeout=30)
    now = datetime.now(tz=UTC)
    for _ in range(60):
        recorder.observe(MetricKind.JOB_WAIT, "default:diagnostics.noop", 50.0)
        recorder.observe(MetricKind.JOB_RUN, "default:diagnostics.noop", 2000.0, counters={"succeeded": 1})
    flush_and_roll_up()
    queues = {q["queue"]: q for q in ops_client.get("/api/monitoring/queues?window=15m").json()["queues"]}
    # 60 starts in 15 min = 1/15 per second; x 2 s run = 0.13 busy workers -> 1 at 70%.
    assert queues["default"]["queued"] == 1
    assert queues["default"]["recommended_workers"] == 1
    assert queues["default"]["throughput_per_minute"] == pytest.approx(4.0)
    assert now  # the page renders too
    assert b"Recommended workers" in ops_client.get("/monitoring/queues/?window=15m").content


@pytest.mark.django_db
def test_a_second_flush_into_the_same_minute_adds_to_its_histogram():
    minute = 1_700_000_040
    index = bucket_index(12.0)
    for _ in range(2):
        cell = Cell(count=3, total_ms=36.0, buckets={index: 3})
        metrics_store(cells={("endpoint", "GET /x", minute): cell})

    row = MetricRollup.objects.get(kind="endpoint", key="GET /x")
    assert row.count == 6
    assert {int(i): c for i, c in row.buckets.items()} == {index: 6}
