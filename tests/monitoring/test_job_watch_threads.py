"""A worker records a job's success from its JobsThread: job_finished then arrives on
another thread than the job's, and must still take the job's query watch off the job's
connection (or the next job's claim would be counted as the last job's)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from apps.jobs import runner, services
from apps.jobs.models import Job, Status
from apps.monitoring import receivers
from apps.monitoring.models import MetricKind, MetricRollup
from tests.monitoring.helpers import flush_and_roll_up


def _watches_on_this_connection() -> list:
    return [wrapper for wrapper in connection.execute_wrappers if wrapper.__class__.__name__ == "QueryWatch"]


@pytest.mark.django_db
def test_a_job_finished_on_another_thread_takes_the_watch_off_the_jobs_connection():
    job = Job(pk=10**9, kind="diagnostics.noop", queue="default", attempts=1, started_at=timezone.now())
    receivers.on_job_started(sender=Job, job=job)
    assert len(_watches_on_this_connection()) == 1

    job.finished_at = timezone.now()
    other = threading.Thread(
        target=receivers.on_job_finished, kwargs={"sender": Job, "job": job, "status": "succeeded"}
    )
    other.start()
    other.join()

    assert _watches_on_this_connection() == []


@pytest.mark.django_db(transaction=True)
def test_a_workers_batched_successes_are_counted_once_each(published, settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 60
    settings.JOBS_END_BATCH_SECONDS = 600
    jobs = [services.enqueue("diagnostics.noop", params={}) for _ in range(3)]
    for job in jobs:
        runner.execute(job.pk, in_worker=True)
    runner.jobs_thread().stop()

    assert set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == {
        Status.SUCCEEDED
    }
    assert _watches_on_this_connection() == []
    flush_and_roll_up()
    run = MetricRollup.objects.get(kind=MetricKind.JOB_RUN, key="default:diagnostics.noop")
    assert run.count == 3 and run.counters == {"succeeded": 3}
