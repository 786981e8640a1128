"""The job services: enqueue, cancel, replay and the dispatcher's steps.

The broker is replaced by a list (``published``): these tests run on SQLite and
PostgreSQL alike and never leave messages in a Redis that a real cluster would consume.
Running jobs in a worker is tested in test_runner.py and, with real processes, in
tests/integration/.
"""

from datetime import timedelta

import pytest
from django.core.checks import Tags, run_checks
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from apps.jobs import broker, services
from apps.jobs.errors import JobIdempotencyConflict, JobInputError, JobStateError
from apps.jobs.models import Job, JobAttempt, Status
from apps.jobs.registry import kinds_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on_commit callbacks (publishing) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- enqueue ---------------------------------------------------------------------------


def test_enqueue_records_a_queued_job_and_publishes_it_on_commit(alice, published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.sleep", params={"seconds": 1}, owner=alice)

    job.refresh_from_db()
    assert job.status == Status.QUEUED
    assert job.params == {"seconds": 1.0, "steps": 10}
    assert job.owner == alice
    assert (job.queue, job.max_attempts, job.timeout) == ("default", 1, 3700)
    assert job.published_at is not None
    assert published == [job.pk]


def test_nothing_is_published_before_the_transaction_commits(published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.enqueue("diagnostics.noop")

    assert len(callbacks) == 1
    assert published == []


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("reports.nope", {}, "Unknown job kind 'reports.nope'."),
        (
            "diagnostics.sleep",
            {"seconds": -1},
            "Invalid params for diagnostics.sleep: seconds: Input should be",
        ),
        ("diagnostics.sleep", {"seconds": "soon"}, "seconds: Input should be a valid number"),
        ("diagnostics.noop", {"colour": "red"}, "Invalid params for diagnostics.noop: colour: Extra inputs"),
        ("diagnostics.fail", {"times": 1001}, "times: Input should be less than or equal to 1000"),
    ],
)
def test_enqueue_refuses_bad_kind_or_params_and_writes_nothing(
    alice, published, on_commit, kind, params, message
):
    with on_commit(), pytest.raises(JobInputError) as error:
        services.enqueue(kind, params=params, owner=alice)

    assert message in str(error.value)
    assert not Job.objects.exists()
    assert published == []


def test_enqueue_refuses_an_unknown_queue(published):
    with pytest.raises(JobInputError, match=r"Unknown queue 'urgent'; use one of system, high, default, low"):
        services.enqueue("diagnostics.noop", queue="urgent")
    assert not Job.objects.exists()


def test_staff_only_kind_is_refused_to_a_user_but_not_to_staff(alice, ops, published, on_commit):
    with pytest.raises(JobInputError, match=r"'diagnostics\.hang' can only be submitted by staff"):
        services.enqueue("diagnostics.hang", owner=alice, user_submitted=True)
    assert not Job.objects.exists()

    with on_commit():
        job = services.enqueue("diagnostics.hang", owner=ops, user_submitted=True)
    assert job.status == Status.QUEUED


def test_queue_can_be_chosen_per_job(published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.noop", queue="high")
    assert Job.objects.get(pk=job.pk).queue == "high"


def test_same_idempotency_key_returns_the_existing_job(alice, bob, published, on_commit):
    with on_commit():
        first = services.enqueue("diagnostics.noop", owner=alice, idempotency_key="order-42")
        again = services.enqueue("diagnostics.noop", owner=alice, idempotency_key="order-42")
        bobs = services.enqueue("diagnostics.noop", owner=bob, idempotency_key="order-42")

    assert again.pk == first.pk
    assert bobs.pk != first.pk
    assert Job.objects.count() == 2
    assert published == [first.pk, bobs.pk]


def test_get_or_enqueue_says_whether_it_made_the_job(alice, published, on_commit):
    with on_commit():
        first, made = services.job_get_or_enqueue("diagnostics.noop", owner=alice, idempotency_key="k")
        again, made_again = services.job_get_or_enqueue("diagnostics.noop", owner=alice, idempotency_key="k")

    assert (made, made_again) == (True, False)
    assert again.pk == first.pk
    assert published == [first.pk]


def test_an_idempotency_key_used_for_another_job_is_refused(alice, published):
    first = services.enqueue("diagnostics.sleep", params={"seconds": 1}, owner=alice, idempotency_key="k")

    for kind, params in (("diagnostics.sleep", {"seconds": 2}), ("diagnostics.noop", {})):
        with pytest.raises(
            JobIdempotencyConflict, match=f"'k' was already used for a different job .*{first.uuid}"
        ):
            services.enqueue(kind, params=params, owner=alice, idempotency_key="k")
    assert Job.objects.count() == 1


def test_rolled_back_enqueue_leaves_no_job_and_publishes_nothing(alice, published, on_commit):
    with on_commit() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        services.enqueue("diagnostics.noop", owner=alice)
        raise RuntimeError("the view failed after enqueueing")

    assert callbacks == []
    assert not Job.objects.exists()
    assert published == []


def test_job_due_later_is_scheduled_then_published_when_due(published, on_commit):
    run_at = timezone.now() + timedelta(minutes=5)
    with on_commit():
        job = services.enqueue("diagnostics.noop", run_at=run_at)
    assert job.status == Status.SCHEDULED
    assert published == []

    with on_commit():
        assert services.jobs_publish_due(now=run_at - timedelta(seconds=1)) == 0
    assert Job.objects.get(pk=job.pk).status == Status.SCHEDULED

    with on_commit():
        assert services.jobs_publish_due(now=run_at) == 1
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    assert job.published_at == run_at
    assert published == [job.pk]


def test_run_at_in_the_past_queues_at_once(published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.noop", run_at=timezone.now() - timedelta(minutes=1))
    assert job.status == Status.QUEUED
    assert published == [job.pk]


# --- cancel and replay -------------------------------------------------------------------


def test_cancel_of_a_queued_job_is_immediate(alice, published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.sleep", owner=alice)
        job = services.job_cancel(job=job, by=alice)

    assert job.status == Status.CANCELLED
    assert job.finished_at is not None
    # Its message may still be in the broker: the claim finds nothing to take.
    assert services.job_claim(job_id=job.pk, worker="test:1") is None


def test_cancel_of_a_running_job_only_asks_it_to_stop(alice, published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.sleep", owner=alice)
    services.job_claim(job_id=job.pk, worker="test:1")

    job = services.job_cancel(job=job, by=alice)

    assert job.status == Status.RUNNING
    assert job.cancel_requested_at is not None
    assert services.job_heartbeat(job_id=job.pk, attempt=1) == (True, True)


def test_ended_job_cannot_be_cancelled(published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.noop")
    services.job_cancel(job=job)

    with pytest.raises(JobStateError, match="already ended"):
        services.job_cancel(job=job)


def test_only_ended_or_failed_jobs_can_be_replayed(published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.noop")

    with pytest.raises(JobStateError, match="this one is queued"):
        services.job_retry(job=job)


def test_replay_of_a_cancelled_job_queues_and_publishes_it(published, on_commit):
    with on_commit():
        job = services.enqueue("diagnostics.noop")
        services.job_cancel(job=job)
        job = services.job_retry(job=job)

    assert job.status == Status.QUEUED
    assert job.finished_at is None
    assert published == [job.pk, job.pk]


# --- dispatcher steps --------------------------------------------------------------------


def test_stale_heartbeat_counts_a_lost_attempt_and_queues_the_job_again(published, on_commit, settings):
    with on_commit():
        job = services.enqueue("diagnostics.noop")
    services.job_claim(job_id=job.pk, worker="gone-host:4242")
    now = timezone.now()

    # A live heartbeat is left alone.
    assert services.jobs_recover_stale(now=now) == 0
    later = now + timedelta(seconds=settings.JOBS_HEARTBEAT_STALE_AFTER + 1)
    assert services.jobs_recover_stale(now=later) == 1

    attempt = JobAttempt.objects.get(job=job)
    assert attempt.outcome == JobAttempt.Outcome.LOST
    assert attempt.worker == "gone-host:4242"
    assert "Worker lost" in attempt.error
    job.refresh_from_db()
    # diagnostics.noop has one attempt, but a dead worker is not the job's fault.
    assert job.status == Status.FAILED
    assert job.run_at == later
    with on_commit():
        assert services.jobs_publish_due(now=later) == 1
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED
    assert published == [job.pk, job.pk]


def test_job_that_keeps_losing_its_worker_ends_dead(published, on_commit, settings):
    with on_commit():
        job = services.enqueue("diagnostics.noop")
    now = timezone.now()
    for round_ in range(1, 10):
        if services.job_claim(job_id=job.pk, worker=f"host:{round_}") is None:
            break
        now += timedelta(seconds=settings.JOBS_HEARTBEAT_STALE_AFTER + 1)
        services.jobs_recover_stale(now=now)
        with on_commit():
            services.jobs_publish_due(now=now)

    job.refresh_from_db()
    assert job.status == Status.DEAD
    assert job.attempts == 1 + services.LOST_ATTEMPTS_FORGIVEN
    outcomes = set(JobAttempt.objects.filter(job=job).values_list("outcome", flat=True))
    assert outcomes == {JobAttempt.Outcome.LOST}


def test_stale_job_with_a_cancel_request_ends_cancelled(published, on_commit, settings):
    with on_commit():
        job = services.enqueue("diagnostics.sleep")
    services.job_claim(job_id=job.pk, worker="gone-host:1")
    services.job_cancel(job=job)

    later = timezone.now() + timedelta(seconds=settings.JOBS_HEARTBEAT_STALE_AFTER + 1)
    with on_commit():
        assert services.jobs_recover_stale(now=later) == 1

    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED
    assert JobAttempt.objects.get(job=job).outcome == JobAttempt.Outcome.CANCELLED


def test_queued_jobs_lost_by_an_empty_broker_are_republished(published, on_commit, settings, monkeypatch):
    with on_commit():
        job = services.enqueue("diagnostics.noop")
    assert published == [job.pk]
    soon = timezone.now() + timedelta(seconds=settings.JOBS_REPUBLISH_AFTER / 2)
    later = timezone.now() + timedelta(seconds=settings.JOBS_REPUBLISH_AFTER + 1)

    # Too recent: the message may still be on its way.
    assert services.jobs_republish_lost(now=soon) == 0
    # A broker that holds messages may still hold this one.
    monkeypatch.setattr(broker, "queue_size", lambda queue: 3)
    assert services.jobs_republish_lost(now=later) == 0
    # The queue is empty (Redis flushed or restarted): it cannot hold the job.
    monkeypatch.setattr(broker, "queue_size", lambda queue: 0)
    assert services.jobs_republish_lost(now=later) == 1

    assert published == [job.pk, job.pk]
    assert Job.objects.get(pk=job.pk).published_at == later
    # Republishing moved published_at on: the next round leaves it alone.
    assert services.jobs_republish_lost(now=later) == 0


def test_very_old_queued_jobs_are_republished_whatever_the_broker_says(
    published, on_commit, settings, monkeypatch
):
    with on_commit():
        job = services.enqueue("diagnostics.noop")
    monkeypatch.setattr(broker, "queue_size", lambda queue: 1000)
    much_later = timezone.now() + timedelta(seconds=settings.JOBS_REPUBLISH_MAX_AGE + 1)

    assert services.jobs_republish_lost(now=much_later) == 1
    assert published == [job.pk, job.pk]


def test_scheduled_kinds_are_enqueued_once_per_period(published, on_commit):
    # On a whole minute: one second later is then in the same period of every kind (all
    # last whole minutes); a "now" at hh:mm:59.5 made the test fail once a minute.
    now = timezone.now().replace(second=0, microsecond=0)
    with on_commit():
        services.jobs_enqueue_scheduled(now=now)
        assert services.jobs_enqueue_scheduled(now=now) == 0
        assert services.jobs_enqueue_scheduled(now=now + timedelta(seconds=1)) == 0

    prune = Job.objects.get(kind="jobs.prune")
    assert prune.owner is None
    assert prune.idempotency_key.startswith("schedule:jobs.prune:")
    assert prune.queue == "system"
    assert published.count(prune.pk) == 1

    with on_commit():
        services.jobs_enqueue_scheduled(now=now + timedelta(hours=1))
    assert Job.objects.filter(kind="jobs.prune").count() == 2


def test_scheduled_jobs_are_counted_as_enqueued_whatever_now_is(published, on_commit):
    scheduled = [kind for kind in kinds_all() if kind.every is not None]
    # A day ahead: a job created now is far older than that "now".
    with on_commit():
        assert services.jobs_enqueue_scheduled(now=timezone.now() + timedelta(days=1)) == len(scheduled)

    assert Job.objects.filter(kind__in=[kind.name for kind in scheduled]).count() == len(scheduled)


def test_prune_deletes_only_old_finished_jobs(published, on_commit, settings):
    with on_commit():
        old = services.enqueue("diagnostics.noop")
        waiting = services.enqueue("diagnostics.noop")
    services.job_cancel(job=old)
    now = timezone.now() + timedelta(days=settings.JOBS_RETENTION_DAYS, seconds=1)

    assert services.jobs_prune(now=now) == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [waiting.pk]


# --- configuration checks ----------------------------------------------------------------

GOOD_CLUSTER = {
    "name": "default",
    "workers": 2,
    "save_limit": -1,
    "ALT_CLUSTERS": {"system": {"workers": 2}, "high": {"workers": 2}, "low": {"workers": 1}},
}


def jobs_check_ids() -> list[str]:
    return sorted(error.id for error in run_checks(tags=[Tags.compatibility]) if error.id.startswith("jobs."))


def test_project_settings_pass_the_jobs_checks():
    assert jobs_check_ids() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"Q_CLUSTER": None}, ["jobs.E001"]),
        (
            {"Q_CLUSTER": {**GOOD_CLUSTER, "ALT_CLUSTERS": {"system": {}, "high": {"workers": 2}}}},
            ["jobs.E002"],
        ),
        (
            {
                "Q_CLUSTER": {
                    **GOOD_CLUSTER,
                    "ALT_CLUSTERS": {"system": {}, "high": {"workers": 0}, "low": {}},
                }
            },
            ["jobs.E003"],
        ),
        ({"Q_CLUSTER": {key: v for key, v in GOOD_CLUSTER.items() if key != "save_limit"}}, ["jobs.E004"]),
        ({"Q_CLUSTER": {**GOOD_CLUSTER, "save_limit": 250}}, ["jobs.E004"]),
        ({"Q_CLUSTER": GOOD_CLUSTER, "JOBS_HEARTBEAT_INTERVAL": 0}, ["jobs.E005"]),
        (
            {"Q_CLUSTER": GOOD_CLUSTER, "JOBS_HEARTBEAT_INTERVAL": 5, "JOBS_HEARTBEAT_STALE_AFTER": 10},
            ["jobs.E006"],
        ),
        ({"Q_CLUSTER": GOOD_CLUSTER, "JOBS_MAX_SCHEDULE_DAYS": 0}, ["jobs.E007"]),
        ({"Q_CLUSTER": GOOD_CLUSTER, "JOBS_MAX_SCHEDULE_DAYS": 10_000_000}, ["jobs.E007"]),
        ({"Q_CLUSTER": GOOD_CLUSTER, "JOBS_USER_MAX_ACTIVE": -1}, ["jobs.E008"]),
        ({"Q_CLUSTER": GOOD_CLUSTER, "REPORTS_USER_MAX_ACTIVE": "5"}, ["jobs.E008"]),
        ({"Q_CLUSTER": GOOD_CLUSTER, "JOBS_QUOTA_RETRY_AFTER": 0}, ["jobs.E009"]),
    ],
)
def test_bad_queue_configuration_is_reported(overrides, expected):
    with override_settings(**overrides):
        assert jobs_check_ids() == expected
