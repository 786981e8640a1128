"""A worker's successes wait a few milliseconds to be written together (JobsThread). A
worker killed in that window leaves the job running: the dispatcher takes it for lost and
it runs again (at least once, as for any killed worker). A worker that ends normally
(django-q2 stopping or recycling it) writes what waits before it exits."""

import os
import signal
import time

import pytest

from apps.jobs import services
from apps.jobs.models import FINAL_STATUSES, Job, JobAttempt, Status

pytestmark = pytest.mark.integration

START = 60
END = 30


def test_worker_killed_while_its_success_waits_runs_the_job_again(live):
    # A success waits up to a heartbeat interval (3s here), a third of the dispatcher's
    # stale threshold at most (10s here; by default 20ms, 2s and 15s).
    timings = {"JOBS_HEARTBEAT_INTERVAL": 3, "JOBS_HEARTBEAT_STALE_AFTER": 10}
    one_worker(live, **timings)
    live.start("dispatcher", "jobs_dispatcher", **timings)
    noop = services.enqueue("diagnostics.noop")
    live.wait_for(
        lambda: Job.objects.filter(pk=noop.pk, status=Status.RUNNING, attempts=1).first(),
        timeout=START,
        what="the no-op to be claimed",
    )
    # The one worker moves on to a longer job while the no-op's success waits in it; it is
    # killed during that job (an idle worker killed inside django-q2's queue read would
    # leave its cluster unable to read the queue, whatever the job system does).
    sleeper = services.enqueue("diagnostics.sleep", params={"seconds": 2, "steps": 20})
    running = live.wait_for(
        lambda: Job.objects.filter(pk=sleeper.pk, status=Status.RUNNING, progress_done__gte=1).first(),
        timeout=START,
        what="the longer job to start",
    )
    assert Job.objects.get(pk=noop.pk).status == Status.RUNNING
    pid = int(running.worker.rsplit(":", 1)[1])
    assert live.owns(pid)

    os.kill(pid, signal.SIGKILL)

    for job in (noop, sleeper):
        done = live.wait_for(
            lambda job=job: Job.objects.filter(pk=job.pk, status__in=FINAL_STATUSES).first(),
            timeout=START,
            what="each job to run again after its worker was lost, and end",
        )
        assert done.status == Status.SUCCEEDED, done.error
        assert outcomes(job) == [JobAttempt.Outcome.LOST, JobAttempt.Outcome.SUCCEEDED]


def test_a_worker_stopped_writes_the_successes_that_wait(live):
    one_worker(live, JOBS_HEARTBEAT_INTERVAL=600, JOBS_HEARTBEAT_STALE_AFTER=1800)
    jobs = [services.enqueue("diagnostics.noop") for _ in range(3)]
    live.wait_for(
        lambda: Job.objects.filter(pk__in=[j.pk for j in jobs], status=Status.RUNNING).count() == 3,
        timeout=START,
        what="the jobs to be claimed",
    )
    time.sleep(0.5)
    assert Job.objects.filter(pk__in=[j.pk for j in jobs], status=Status.RUNNING).count() == 3

    live.stop("qcluster-default")  # django-q2 stops its workers; each writes what waits

    for job in jobs:
        assert Job.objects.get(pk=job.pk).status == Status.SUCCEEDED
        assert outcomes(job) == [JobAttempt.Outcome.SUCCEEDED]


def one_worker(live, **timings) -> None:
    """A cluster of one worker whose successes wait as long as they may (a heartbeat interval)."""
    live.start(
        "qcluster-default",
        "qcluster",
        Q_CLUSTER_NAME="default",
        JOBS_WORKERS_DEFAULT=1,
        JOBS_END_BATCH_SECONDS=600,
        **timings,
    )


def outcomes(job: Job) -> list[str]:
    return list(JobAttempt.objects.filter(job=job).order_by("number").values_list("outcome", flat=True))
