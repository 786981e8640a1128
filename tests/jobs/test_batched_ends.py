"""A worker's successes recorded together: one statement for several jobs, fenced per
attempt, written by the process's one JobsThread before it stops; job_finished with the
batch, so receivers can work once per batch. Heartbeats come from that thread too."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.jobs import runner, services
from apps.jobs.models import Job, JobAttempt, Status
from apps.jobs.signals import EndedTogether, job_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("broker_stubbed")]


@pytest.fixture(autouse=True)
def slow_heartbeat(settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 60
    settings.JOBS_HEARTBEAT_STALE_AFTER = 180


def claimed(count: int) -> list[Job]:
    jobs = [services.enqueue("diagnostics.noop") for _ in range(count)]
    return [services.job_claim(job_id=job.pk, worker="test:1") for job in jobs]


def success(job: Job) -> services.Success:
    return services.Success(
        job=job,
        attempt=job.attempts,
        result={"n": job.pk},
        progress=(1, 1, "done"),
        log=["one line"],
        finished_at=timezone.now(),
    )


@pytest.fixture
def finished():
    """Every job_finished sent, with its batch."""
    seen = []

    def receiver(sender, job, status, batch=None, **kwargs):
        seen.append((job.pk, status, batch))

    job_finished.connect(receiver)
    yield seen
    job_finished.disconnect(receiver)


def test_successes_are_one_statement_and_each_gets_its_history(finished):
    jobs = claimed(3)

    with CaptureQueriesContext(connection) as captured:
        ended = services.jobs_succeed(successes=[success(job) for job in jobs])

    assert [job.pk for job in ended] == [job.pk for job in jobs]
    if connection.vendor == "postgresql":
        assert len(captured) == 1, [query["sql"] for query in captured]
    for job in jobs:
        row = Job.objects.get(pk=job.pk)
        assert (row.status, row.result, row.log) == (Status.SUCCEEDED, {"n": job.pk}, ["one line"])
        assert (row.progress_done, row.progress_total, row.progress_message) == (1, 1, "done")
        assert row.finished_at == row.heartbeat_at <= row.updated_at
        attempt = JobAttempt.objects.get(job=job)
        assert (attempt.number, attempt.outcome, attempt.worker) == (1, "succeeded", "test:1")
    assert [(pk, status) for pk, status, _ in finished] == [(job.pk, Status.SUCCEEDED) for job in jobs]
    batches = {id(batch) for _, _, batch in finished}
    if connection.vendor == "postgresql":
        assert len(batches) == 1 and isinstance(finished[0][2], EndedTogether)


def test_a_success_whose_attempt_lost_the_job_is_not_recorded():
    kept, lost = claimed(2)
    # The dispatcher took the second for lost (its worker looked dead) and it runs again.
    services.jobs_recover_stale(now=timezone.now() + timedelta(hours=1))
    Job.objects.filter(pk=kept.pk).update(status=Status.RUNNING)  # only the second was lost
    JobAttempt.objects.filter(job=kept).delete()

    ended = services.jobs_succeed(successes=[success(kept), success(lost)])

    assert [job.pk for job in ended] == [kept.pk]
    assert Job.objects.get(pk=lost.pk).status == Status.FAILED
    assert list(JobAttempt.objects.filter(job=lost).values_list("outcome", flat=True)) == ["lost"]


def test_a_batch_gathers_per_key_and_hands_each_key_over_once():
    batch = EndedTogether()
    handed = []
    for item in (1, 2, 3):
        batch.gather("a", item, handed.append)
    batch.gather("b", "x", handed.append)

    batch.run()
    batch.run()

    assert handed == [[1, 2, 3], ["x"]]


def test_a_workers_successes_wait_for_their_batch_and_are_written_when_the_thread_stops(settings):
    settings.JOBS_END_BATCH_SECONDS = 600
    jobs = [services.enqueue("diagnostics.noop") for _ in range(3)]

    for job in jobs:
        assert runner.execute(job.pk, in_worker=True) == "succeeded"
    if connection.vendor != "postgresql":
        return  # written one by one at once
    assert set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == {
        Status.RUNNING
    }

    runner.jobs_thread().stop()  # as when django-q2 ends the worker process

    assert set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == {
        Status.SUCCEEDED
    }
    assert JobAttempt.objects.filter(job__in=jobs, outcome="succeeded").count() == 3


def test_a_workers_successes_are_written_within_the_batch_window(settings):
    settings.JOBS_END_BATCH_SECONDS = 0.01
    job = services.enqueue("diagnostics.noop")

    assert runner.execute(job.pk, in_worker=True) == "succeeded"

    deadline = time.monotonic() + 10
    while Job.objects.get(pk=job.pk).status != Status.SUCCEEDED:
        assert time.monotonic() < deadline, "the success was not written"
        time.sleep(0.01)


def test_jobs_share_one_heartbeat_thread():
    for _ in range(3):
        assert runner.execute(services.enqueue("diagnostics.noop").pk) == "succeeded"

    names = [thread.name for thread in threading.enumerate()]
    assert names.count("jobs-heartbeats") == 1, names
