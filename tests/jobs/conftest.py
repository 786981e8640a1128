"""Shared by the jobs tests: jobs run inline as a worker would, with no broker behind them."""

import pytest

from apps.jobs import runner, services
from apps.jobs.models import Job, Status

JOBS_URL = "/api/jobs"


def submit(client, **body):
    """POST a job to the API as JSON."""
    return client.post(JOBS_URL, body, content_type="application/json")


def runs_jobs(test):
    """runner.execute() reopens its database connection, as a worker does: a test that runs
    jobs needs committed rows (PostgreSQL refuses a new connection inside the test's
    transaction)."""
    return pytest.mark.usefixtures("broker_stubbed")(pytest.mark.django_db(transaction=True)(test))


def run_until_dead(job: Job) -> Job:
    """Run each attempt inline, publishing every retry as soon as it is scheduled."""
    for _ in range(job.max_attempts):
        runner.execute(job.pk)
        job.refresh_from_db()
        if job.status == Status.FAILED:
            services.jobs_publish_due(now=job.run_at)
    job.refresh_from_db()
    return job
