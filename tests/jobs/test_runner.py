"""Running jobs in-process with runner.execute, as a django-q2 worker would.

The dispatcher's part is driven by hand (``jobs_publish_due(now=job.run_at)``), so
retries and recovery need no waiting. Tests where the heartbeat thread's own database
connection must see the job use ``transactional_db``.
"""

import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_q.exceptions import TimeoutException

from apps.jobs import registry, runner, services
from apps.jobs.models import Job, JobAttempt, Status
from apps.jobs.registry import job
from apps.jobs.signals import job_finished

Outcome = JobAttempt.Outcome

# Committed rows, as in a worker: execute() starts with close_old_connections(), which a
# test transaction would not survive, and the heartbeat thread has its own connection.
# No Redis or ORM queue is touched (broker_stubbed, tests/conftest.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("broker_stubbed")]


@pytest.fixture(autouse=True)
def slow_heartbeat(settings):
    """The heartbeat thread stays quiet unless a test asks for it."""
    settings.JOBS_HEARTBEAT_INTERVAL = 60
    settings.JOBS_HEARTBEAT_STALE_AFTER = 180


def enqueue(kind: str, **params) -> Job:
    return services.enqueue(kind, params=params)


def in_thread_with_own_connection(func):
    """A callable for another thread that closes that thread's database connection after."""

    def run() -> None:
        try:
            func()
        finally:
            connection.close()

    return run


# --- test-only job kinds, registered for the tests that use them --------------------------


def cancelled_midway(ctx, params) -> dict:
    """Someone cancels while it runs; the next progress() stops it."""
    ctx.progress(1, 3, "first third")
    services.job_cancel(job=Job.objects.get(pk=ctx.job_id))
    ctx.progress(2, 3, "second third")
    return {"reached": "the end"}


def waits_for_cancel(ctx, params) -> dict:
    """Checks for cancel without reporting progress; only the heartbeat can tell it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(0.01)
    return {"cancel": "never seen"}


def ignores_cancel(ctx, params) -> dict:
    """Never checks for cancel; returns once its attempt no longer holds the job."""
    services.job_cancel(job=Job.objects.get(pk=ctx.job_id))
    ctx.lost.wait(10)
    return {"ignored": True}


def long_enough_for_heartbeats(ctx, params) -> dict:
    time.sleep(0.5)
    return {}


def recovered_while_running(ctx, params) -> dict:
    """The dispatcher takes this attempt for lost (a long GC pause, a network split)."""
    later = timezone.now() + timedelta(hours=1)
    services.jobs_recover_stale(now=later)
    return {"late": True}


def times_out(ctx, params) -> dict:
    raise TimeoutException("Task exceeded maximum timeout value (1 seconds)")


def sleeps_a_little(ctx, params) -> dict:
    time.sleep(0.3)
    return {}


@pytest.fixture
def test_kinds(monkeypatch):
    """Register the kinds above in a copy of the catalogue, restored after the test."""
    monkeypatch.setattr(registry, "_kinds", dict(registry._kinds))
    job("tests.cancelled_midway", max_attempts=1, timeout=30)(cancelled_midway)
    job("tests.waits_for_cancel", max_attempts=1, timeout=30)(waits_for_cancel)
    job("tests.ignores_cancel", max_attempts=1, timeout=30)(ignores_cancel)
    job("tests.heartbeats", max_attempts=1, timeout=30)(long_enough_for_heartbeats)
    job("tests.sleeps_a_little", max_attempts=1, timeout=30)(sleeps_a_little)
    job("tests.recovered_while_running", max_attempts=3, timeout=30)(recovered_while_running)
    job("tests.times_out", max_attempts=1, timeout=1)(times_out)


# --- running ------------------------------------------------------------------------------


def test_successful_job_stores_result_progress_and_log():
    queued = enqueue("diagnostics.sleep", seconds=0, steps=4)

    assert runner.execute(queued.pk) == "succeeded"

    done = Job.objects.get(pk=queued.pk)
    assert done.status == Status.SUCCEEDED
    assert done.result == {"slept": 0.0}
    assert (done.progress_done, done.progress_total, done.progress_message) == (4, 4, "done")
    assert done.percent == 100.0
    assert any("slept 0s in 4 steps" in line for line in done.log)
    assert done.attempts == 1
    assert done.started_at <= done.finished_at
    attempt = JobAttempt.objects.get(job=done)
    assert (attempt.number, attempt.outcome, attempt.retry_delay) == (1, Outcome.SUCCEEDED, None)
    assert attempt.worker == services.worker_name() == done.worker


def test_finishing_sends_job_finished_once():
    seen = []

    def receiver(sender, job, status, **kwargs):
        seen.append((job.pk, status))

    job_finished.connect(receiver)
    try:
        queued = enqueue("diagnostics.noop")
        runner.execute(queued.pk)
    finally:
        job_finished.disconnect(receiver)

    assert seen == [(queued.pk, Status.SUCCEEDED)]


def test_duplicate_delivery_of_a_job_is_not_claimed():
    queued = enqueue("diagnostics.noop")

    assert runner.execute(queued.pk) == "succeeded"
    assert runner.execute(queued.pk) == "not claimed"

    assert Job.objects.get(pk=queued.pk).attempts == 1
    assert JobAttempt.objects.filter(job=queued).count() == 1


def test_failing_job_retries_with_growing_delays_then_succeeds():
    queued = enqueue("diagnostics.fail", times=2)

    for _ in range(2):
        assert runner.execute(queued.pk) == "failed"
        failed = Job.objects.get(pk=queued.pk)
        assert failed.status == Status.FAILED
        assert "Failing on purpose" in failed.error
        assert "RuntimeError" in failed.traceback
        # Not due yet: the dispatcher leaves it waiting.
        assert services.jobs_publish_due(now=failed.run_at - timedelta(milliseconds=1)) == 0
        assert services.jobs_publish_due(now=failed.run_at) == 1
    assert runner.execute(queued.pk) == "succeeded"

    done = Job.objects.get(pk=queued.pk)
    assert done.status == Status.SUCCEEDED
    assert done.result == {"succeeded_on_attempt": 3}
    assert done.error == ""
    attempts = list(JobAttempt.objects.filter(job=done))
    assert [a.outcome for a in attempts] == [Outcome.FAILED, Outcome.FAILED, Outcome.SUCCEEDED]
    first, second, _ = (a.retry_delay for a in attempts)
    # retry_backoff=1s with equal jitter: attempt 1 waits 0.5-1s, attempt 2 waits 1-2s.
    assert 0.5 <= first <= 1.0 <= second <= 2.0


def test_job_failing_every_time_ends_dead_and_replay_keeps_its_history():
    queued = enqueue("diagnostics.fail", times=99)

    def run_until_it_stops() -> Job:
        while True:
            assert runner.execute(queued.pk) == "failed"
            current = Job.objects.get(pk=queued.pk)
            if current.status != Status.FAILED:
                return current
            services.jobs_publish_due(now=current.run_at)

    dead = run_until_it_stops()
    assert dead.status == Status.DEAD
    assert dead.attempts == dead.max_attempts == 3
    assert dead.finished_at is not None
    attempts = list(JobAttempt.objects.filter(job=dead))
    assert [a.outcome for a in attempts] == [Outcome.FAILED] * 3
    # The last attempt has no retry to wait for.
    assert attempts[-1].retry_delay is None

    replayed = services.job_retry(job=dead)
    assert replayed.status == Status.QUEUED
    assert replayed.max_attempts == 6
    dead_again = run_until_it_stops()

    assert dead_again.status == Status.DEAD
    assert dead_again.attempts == 6
    assert list(JobAttempt.objects.filter(job=dead_again).values_list("number", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_params_that_no_longer_validate_fail_the_attempt():
    queued = enqueue("diagnostics.sleep", seconds=1)
    Job.objects.filter(pk=queued.pk).update(params={"seconds": "a while"})

    assert runner.execute(queued.pk) == "failed"

    failed = Job.objects.get(pk=queued.pk)
    assert failed.status == Status.DEAD
    assert failed.error.startswith("Cannot run:")


def test_timeout_is_recorded_and_passed_on_to_django_q2(test_kinds):
    queued = enqueue("tests.times_out")

    # django-q2 must see its own timeout to replace the worker process.
    with pytest.raises(TimeoutException):
        runner.execute(queued.pk)

    dead = Job.objects.get(pk=queued.pk)
    assert dead.status == Status.DEAD
    assert dead.error == "Timed out after 1s"
    assert JobAttempt.objects.get(job=dead).outcome == Outcome.TIMED_OUT


# --- cancel and lost workers ------------------------------------------------------------


def test_running_job_stops_at_next_progress_after_cancel(test_kinds, monkeypatch):
    # Every progress() writes (and so reads the cancel request); normally twice a second.
    monkeypatch.setattr(runner, "PROGRESS_WRITE_INTERVAL", 0)
    queued = enqueue("tests.cancelled_midway")

    assert runner.execute(queued.pk) == "cancelled"

    cancelled = Job.objects.get(pk=queued.pk)
    assert cancelled.status == Status.CANCELLED
    assert cancelled.result is None
    assert cancelled.log[-1] == "cancelled"
    assert (cancelled.progress_done, cancelled.progress_message) == (2, "second third")
    assert JobAttempt.objects.get(job=cancelled).outcome == Outcome.CANCELLED


def test_attempt_taken_for_lost_does_not_record_its_late_success(test_kinds):
    queued = enqueue("tests.recovered_while_running")

    assert runner.execute(queued.pk) == "lost"

    job_row = Job.objects.get(pk=queued.pk)
    assert job_row.status == Status.FAILED
    assert job_row.result is None
    assert JobAttempt.objects.get(job=job_row).outcome == Outcome.LOST


def test_heartbeat_keeps_a_running_job_fresh(test_kinds, settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 0.05
    queued = enqueue("tests.heartbeats")
    beats = []

    def watch() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(set(beats)) < 3:
            running = Job.objects.filter(pk=queued.pk, status=Status.RUNNING)
            # SQLite's shared in-memory test database locks a table while it is written.
            with contextlib.suppress(OperationalError):
                beats.extend(running.values_list("heartbeat_at", flat=True))
            time.sleep(0.02)

    watcher = threading.Thread(target=in_thread_with_own_connection(watch))
    watcher.start()
    try:
        assert runner.execute(queued.pk) == "succeeded"
    finally:
        watcher.join()

    assert len(set(beats)) >= 3


def test_heartbeat_survives_a_database_hiccup(test_kinds, settings, monkeypatch):
    settings.JOBS_HEARTBEAT_INTERVAL = 0.05
    real_heartbeat = services.job_heartbeat
    calls = []

    def heartbeat_failing_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real_heartbeat(**kwargs)

    monkeypatch.setattr(services, "job_heartbeat", heartbeat_failing_once)
    queued = enqueue("tests.sleeps_a_little")

    assert runner.execute(queued.pk) == "succeeded"
    assert len(calls) >= 3


def test_heartbeat_passes_a_cancel_to_a_job_that_reports_no_progress(test_kinds, settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 0.05
    queued = enqueue("tests.waits_for_cancel")
    canceller = threading.Timer(0.2, in_thread_with_own_connection(lambda: services.job_cancel(job=queued)))
    canceller.start()

    started = time.monotonic()
    assert runner.execute(queued.pk) == "cancelled"

    canceller.join()
    assert time.monotonic() - started < 5
    assert Job.objects.get(pk=queued.pk).status == Status.CANCELLED


def test_job_ignoring_cancel_is_ended_after_the_grace_period(test_kinds, settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 0.05
    settings.JOBS_CANCEL_GRACE = 0.2
    queued = enqueue("tests.ignores_cancel")

    # Outside a worker the process is not ended; the attempt just loses the job.
    assert runner.execute(queued.pk) == "lost"

    cancelled = Job.objects.get(pk=queued.pk)
    assert cancelled.status == Status.CANCELLED
    assert cancelled.result is None
    assert "did not stop within 0.2s" in cancelled.log[-1]
    assert JobAttempt.objects.get(job=cancelled).outcome == Outcome.CANCELLED
