"""apps.jobs: a job raising PermanentJobError goes dead at once, whatever attempts remain
(added for webhook deliveries that no retry could fix)."""

import pytest

from apps.jobs import registry, services
from apps.jobs.errors import PermanentJobError
from apps.jobs.models import JobAttempt, Status
from tests.notifications.conftest import run_job

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("published", "quiet_heartbeat"),
]


def refuses(ctx, params) -> dict:
    raise PermanentJobError("The receiver answered 404 Not Found.")


def flaky(ctx, params) -> dict:
    raise RuntimeError("temporary")


@pytest.fixture(autouse=True)
def kinds():
    registry.job("tests.refuses", max_attempts=5)(refuses)
    registry.job("tests.flaky", max_attempts=5)(flaky)
    yield
    registry._kinds.pop("tests.refuses", None)
    registry._kinds.pop("tests.flaky", None)


def test_permanent_error_ends_the_job_dead_after_one_attempt():
    job = run_job(services.enqueue("tests.refuses"))
    assert job.status == Status.DEAD
    assert job.attempts == 1 and job.max_attempts == 5
    assert job.error == "The receiver answered 404 Not Found."
    [attempt] = JobAttempt.objects.filter(job=job)
    assert attempt.outcome == JobAttempt.Outcome.FAILED and attempt.retry_delay is None


def test_other_errors_are_still_retried():
    job = run_job(services.enqueue("tests.flaky"))
    assert job.status == Status.FAILED and job.run_at is not None
