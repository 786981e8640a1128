"""The jobs engine with real processes: a django-q2 cluster, the dispatcher, PostgreSQL, Redis.

Each test starts what it needs through the ``live`` fixture (tests/integration/conftest.py),
with short heartbeat, stale, cancel-grace and republish timings, and waits with deadlines.
"""

import itertools
import os
import signal
from pathlib import Path

import pytest
from django.db import transaction

from apps.jobs import broker, services
from apps.jobs.models import FINAL_STATUSES, Job, JobAttempt, Status

Outcome = JobAttempt.Outcome

pytestmark = pytest.mark.integration

# Deadlines, generous for a loaded CI machine; passing tests end as soon as they can.
START = 60  # a cold qcluster, then the first job
END = 30


def ended(job: Job):
    return lambda: Job.objects.filter(pk=job.pk, status__in=FINAL_STATUSES).first()


def running(job: Job, *, progress_at_least: int = 0):
    return lambda: Job.objects.filter(
        pk=job.pk, status=Status.RUNNING, progress_done__gte=progress_at_least
    ).first()


def attempts_of(job: Job) -> list[JobAttempt]:
    return list(JobAttempt.objects.filter(job=job).order_by("number"))


def worker_pid(job: Job) -> int:
    """The q2 worker process holding the job (Job.worker is host:pid)."""
    return int(job.worker.rsplit(":", 1)[1])


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie only waits for its parent (the cluster's guard) to reap it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def group_size(group: int) -> int:
    """Live processes in a process group (a cluster: main, sentinel, monitor, pusher, workers)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == group and not process_gone(int(entry.name)):
                count += 1
        except ProcessLookupError:
            continue
    return count


@pytest.fixture
def workers_and_dispatcher(live):
    """A cluster of two workers on the default queue, and a dispatcher; the cluster."""
    cluster = live.start_workers(workers=2)
    live.start_dispatcher()
    return cluster


def test_worker_killed_midway_job_runs_again(live, workers_and_dispatcher):
    job = services.enqueue("diagnostics.sleep", params={"seconds": 3, "steps": 6})
    first_run = live.wait_for(running(job, progress_at_least=1), timeout=START, what="the job to start")
    pid = worker_pid(first_run)
    assert live.owns(pid), f"{first_run.worker} is not a worker of this test's cluster"

    os.kill(pid, signal.SIGKILL)
    done = live.wait_for(ended(job), timeout=END, what="the job to run again")

    assert done.status == Status.SUCCEEDED, done.error
    assert done.result == {"slept": 3.0}
    lost, succeeded = attempts_of(done)
    assert (lost.outcome, succeeded.outcome) == (Outcome.LOST, Outcome.SUCCEEDED)
    assert lost.worker == first_run.worker != succeeded.worker
    assert "Worker lost" in lost.error
    # The second attempt started only after the first was declared lost.
    assert lost.finished_at <= succeeded.started_at


def test_jobs_queued_when_redis_is_flushed_all_finish(live):
    jobs = [services.enqueue("diagnostics.noop") for _ in range(100)]
    assert live.queue_length() == 100

    live.redis.flushdb()
    assert live.queue_length() == 0
    live.start_workers(workers=2)
    live.start_dispatcher()

    live.wait_for(
        lambda: Job.objects.filter(pk__in=[j.pk for j in jobs], status=Status.SUCCEEDED).count() == 100,
        timeout=START,
        what="all 100 jobs to finish after the flush",
    )
    # Republished messages may arrive twice; each job still ran once.
    assert set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("attempts", flat=True)) == {1}
    assert JobAttempt.objects.filter(job__in=jobs).count() == 100


def test_rolled_back_enqueue_runs_nothing(live, monkeypatch):
    published = []
    real_publish = broker.publish

    def recording_publish(job_id: int, **options) -> bool:
        published.append(job_id)
        return real_publish(job_id, **options)

    monkeypatch.setattr(broker, "publish", recording_publish)
    live.start_workers(workers=2)

    with pytest.raises(RuntimeError, match="request failed"), transaction.atomic():
        rolled_back = services.enqueue("diagnostics.sleep", params={"seconds": 0})
        raise RuntimeError("request failed after enqueueing")
    marker = services.enqueue("diagnostics.noop")
    done = live.wait_for(ended(marker), timeout=START, what="the job enqueued after the rollback")

    assert done.status == Status.SUCCEEDED
    assert published == [marker.pk]
    assert list(Job.objects.values_list("pk", flat=True)) == [marker.pk]
    assert JobAttempt.objects.count() == 1
    # The broker log names every message a worker took: only the marker's.
    cluster_log = (live.log_dir / "qcluster-default.log").read_text()
    assert f"job-{marker.pk}" in cluster_log
    assert f"job-{rolled_back.pk}" not in cluster_log


def test_failing_job_succeeds_on_third_attempt_after_growing_delays(live, workers_and_dispatcher):
    job = services.enqueue("diagnostics.fail", params={"times": 2})

    done = live.wait_for(ended(job), timeout=START, what="the third attempt")

    assert done.status == Status.SUCCEEDED, done.error
    assert done.result == {"succeeded_on_attempt": 3}
    attempts = attempts_of(done)
    assert [a.outcome for a in attempts] == [Outcome.FAILED, Outcome.FAILED, Outcome.SUCCEEDED]
    first_delay, second_delay = attempts[0].retry_delay, attempts[1].retry_delay
    # diagnostics.fail backs off from 1s: 0.5-1s, then 1-2s.
    assert 0.5 <= first_delay <= 1.0 <= second_delay <= 2.0
    for before, after in itertools.pairwise(attempts):
        waited = (after.started_at - before.finished_at).total_seconds()
        assert waited >= before.retry_delay - 0.1, f"attempt {after.number} started before its backoff"


def test_job_failing_every_time_ends_dead_and_replays(live, workers_and_dispatcher):
    job = services.enqueue("diagnostics.fail", params={"times": 99})

    dead = live.wait_for(ended(job), timeout=START, what="the job to end dead")
    assert dead.status == Status.DEAD
    assert [a.outcome for a in attempts_of(dead)] == [Outcome.FAILED] * 3

    services.job_retry(job=dead)
    # The replay's backoff continues from attempt 4 (4-8s, 8-16s): run each pending
    # retry now, as an operator would, instead of waiting for it.
    for attempts_so_far in (4, 5):
        failed = live.wait_for(
            lambda n=attempts_so_far: Job.objects.filter(pk=job.pk, status=Status.FAILED, attempts=n).first(),
            timeout=END,
            what=f"attempt {attempts_so_far} to fail",
        )
        services.job_retry(job=failed)
    dead_again = live.wait_for(ended(job), timeout=END, what="the replay to end dead")

    assert dead_again.status == Status.DEAD
    assert (dead_again.attempts, dead_again.max_attempts) == (6, 6)
    history = attempts_of(dead_again)
    assert [a.number for a in history] == [1, 2, 3, 4, 5, 6]
    assert {a.outcome for a in history} == {Outcome.FAILED}


def test_cancel_of_a_running_job_ends_it_within_seconds(live, workers_and_dispatcher):
    job = services.enqueue("diagnostics.sleep", params={"seconds": 60, "steps": 600})
    started = live.wait_for(running(job, progress_at_least=1), timeout=START, what="the job to start")

    services.job_cancel(job=started)
    cancelled = live.wait_for(ended(job), timeout=5, what="the job to stop after cancel")

    assert cancelled.status == Status.CANCELLED
    assert cancelled.log[-1] == "cancelled"
    assert [a.outcome for a in attempts_of(cancelled)] == [Outcome.CANCELLED]
    # It stopped by itself: its worker lives on.
    assert not process_gone(worker_pid(started))


def test_cancel_of_a_job_that_ignores_it_ends_its_worker(live, workers_and_dispatcher):
    cluster = workers_and_dispatcher
    job = services.enqueue("diagnostics.hang", params={"seconds": 60})
    started = live.wait_for(running(job), timeout=START, what="the job to start")
    pid = worker_pid(started)
    assert live.owns(pid)
    processes_in_cluster = group_size(cluster.pid)

    services.job_cancel(job=started)
    # diagnostics.hang times out after 5s: the forced cancel (grace 2s) comes first.
    cancelled = live.wait_for(ended(job), timeout=5, what="the forced cancel")

    assert cancelled.status == Status.CANCELLED
    assert "did not stop within 2.0s; worker ended" in cancelled.log[-1]
    assert [a.outcome for a in attempts_of(cancelled)] == [Outcome.CANCELLED]
    live.wait_for(lambda: process_gone(pid), timeout=END, what=f"worker {pid} to end")
    live.wait_for(
        lambda: group_size(cluster.pid) == processes_in_cluster,
        timeout=END,
        what="the cluster to replace its worker",
    )
    following = services.enqueue("diagnostics.noop")
    assert (
        live.wait_for(ended(following), timeout=END, what="a job after the cancel").status == Status.SUCCEEDED
    )


def test_hung_job_times_out_and_ends_dead(live, workers_and_dispatcher):
    job = services.enqueue("diagnostics.hang", params={"seconds": 60})

    dead = live.wait_for(ended(job), timeout=START, what="the timeout")

    assert dead.status == Status.DEAD
    assert dead.error == "Timed out after 5s"
    (attempt,) = attempts_of(dead)
    assert attempt.outcome == Outcome.TIMED_OUT
    assert (attempt.finished_at - attempt.started_at).total_seconds() >= 4.9
    # The worker that timed out is replaced; the queue keeps going.
    following = services.enqueue("diagnostics.noop")
    assert (
        live.wait_for(ended(following), timeout=END, what="a job after the timeout").status
        == Status.SUCCEEDED
    )
