"""Per-user quotas (JOBS_USER_MAX_ACTIVE, a kind's own) on the jobs users submit and
replay, never on the jobs the system queues on their behalf; a burst of parallel submits
cannot slip under the cap."""

import datetime
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from apps.jobs import services
from apps.jobs.errors import JobQuotaExceeded
from apps.jobs.models import Job, Status
from apps.jobs.services import submit as submit_service
from tests.jobs.conftest import JOBS_URL, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def quota_of_3(settings):
    settings.JOBS_USER_MAX_ACTIVE = 3
    settings.JOBS_QUOTA_RETRY_AFTER = 30


def test_over_the_quota_a_submit_is_429_with_retry_after_and_the_numbers(alice_client, quota_of_3):
    for _ in range(3):
        assert submit(alice_client, kind="diagnostics.noop").status_code == 202

    response = submit(alice_client, kind="diagnostics.noop")

    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert response.json()["message"] == (
        "You have 3 jobs waiting or running; the limit is 3 at a time (JOBS_USER_MAX_ACTIVE). "
        "Wait for one to finish, or cancel one, then submit again."
    )
    assert Job.objects.count() == 3


def test_a_finished_or_cancelled_job_frees_its_place(alice_client, alice, quota_of_3):
    jobs = [services.enqueue("diagnostics.noop", owner=alice, user_submitted=True) for _ in range(3)]
    assert submit(alice_client, kind="diagnostics.noop").status_code == 429

    Job.objects.filter(pk=jobs[0].pk).update(status=Status.SUCCEEDED)
    alice_client.post(f"{JOBS_URL}/{jobs[1].uuid}/cancel")

    assert submit(alice_client, kind="diagnostics.noop").status_code == 202
    assert submit(alice_client, kind="diagnostics.noop").status_code == 202
    assert submit(alice_client, kind="diagnostics.noop").status_code == 429


def test_scheduled_and_retrying_jobs_count_as_waiting(alice, quota_of_3, published):
    later = timezone.now() + datetime.timedelta(days=1)
    services.enqueue("diagnostics.noop", owner=alice, run_at=later, user_submitted=True)
    services.enqueue("diagnostics.noop", owner=alice, run_at=later, user_submitted=True)
    retrying = services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    Job.objects.filter(pk=retrying.pk).update(status=Status.FAILED, run_at=later)

    with pytest.raises(JobQuotaExceeded) as refused:
        services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    assert (refused.value.limit, refused.value.active) == (3, 3)


def test_one_users_jobs_do_not_count_against_another(client, alice, bob, quota_of_3, published):
    for _ in range(3):
        services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    client.force_login(bob)

    assert submit(client, kind="diagnostics.noop").status_code == 202


def test_staff_are_not_limited(ops_client, quota_of_3):
    for _ in range(5):
        assert submit(ops_client, kind="diagnostics.noop").status_code == 202


def test_jobs_the_system_queues_for_a_user_are_neither_counted_nor_refused(alice_client, alice, quota_of_3):
    # Her e-mails and webhook deliveries: queued by the system on her behalf.
    for index in range(5):
        services.enqueue("notifications.send_email", params={"email_id": index + 1}, owner=alice)
        services.enqueue("notifications.deliver_webhook", params={"delivery_id": index + 1}, owner=alice)

    for _ in range(3):
        assert submit(alice_client, kind="diagnostics.noop").status_code == 202
    assert submit(alice_client, kind="diagnostics.noop").status_code == 429
    # ...and the system still queues hers when she is at her limit.
    services.enqueue("notifications.send_email", params={"email_id": 99}, owner=alice)
    assert Job.objects.filter(owner=alice).count() == 14


def test_an_idempotent_resubmit_at_the_limit_returns_the_job_it_made(alice_client, quota_of_3):
    first = submit(alice_client, kind="diagnostics.noop", idempotency_key="nightly")
    for _ in range(2):
        submit(alice_client, kind="diagnostics.noop")

    again = submit(alice_client, kind="diagnostics.noop", idempotency_key="nightly")

    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]


def test_a_replay_is_a_submit_and_counts(alice_client, alice, quota_of_3, published):
    cancelled = services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    services.job_cancel(job=cancelled)
    for _ in range(3):
        services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)

    response = alice_client.post(f"{JOBS_URL}/{cancelled.uuid}/retry")

    assert response.status_code == 429
    assert "the limit is 3" in response.json()["message"]
    assert Job.objects.get(pk=cancelled.pk).status == Status.CANCELLED


def test_a_replay_over_the_quota_on_the_job_page_says_why(alice_client, alice, quota_of_3, published):
    cancelled = services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    services.job_cancel(job=cancelled)
    for _ in range(3):
        services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)

    page = alice_client.post(f"/jobs/{cancelled.uuid}/retry", follow=True)

    assert b"Cannot retry: You have 3 jobs waiting or running; the limit is 3" in page.content
    assert Job.objects.get(pk=cancelled.pk).status == Status.CANCELLED


def test_users_cannot_replay_kinds_only_staff_may_submit(client, alice, ops, published):
    dead = services.enqueue("notifications.send_email", params={"email_id": 1}, owner=alice)
    Job.objects.filter(pk=dead.pk).update(status=Status.DEAD)
    client.force_login(alice)

    response = client.post(f"{JOBS_URL}/{dead.uuid}/retry")
    assert response.status_code == 403
    assert response.json()["message"] == "Job kind 'notifications.send_email' can only be run again by staff."
    assert b"/retry" not in client.get(f"/jobs/{dead.uuid}/").content

    client.force_login(ops)
    assert client.post(f"{JOBS_URL}/{dead.uuid}/retry").status_code == 202


def test_a_quota_of_0_is_no_quota(alice, settings, published):
    settings.JOBS_USER_MAX_ACTIVE = 0
    for _ in range(25):
        services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    assert Job.objects.count() == 25


def _a_session_waits_for_a_lock() -> bool:
    # pg_locks is read live (pg_stat_activity would be a snapshot inside a transaction).
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_racing_submit_of_the_same_user_waits_and_is_then_counted(
    requires_postgres, alice, quota_of_3, published, monkeypatch
):
    """Two submits at the same moment, at 2 of 3: the first has counted and not yet
    inserted when the second counts. The second must wait for the first, then see 3."""
    for _ in range(2):
        services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    first_counted, second_done = threading.Event(), threading.Event()
    insert = submit_service._job_inserted

    def insert_after_the_second_tried(job: Job) -> tuple[Job, bool]:
        if threading.current_thread().name == "first":
            first_counted.set()
            deadline = time.monotonic() + 10
            while not (second_done.is_set() or _a_session_waits_for_a_lock()) and time.monotonic() < deadline:
                time.sleep(0.01)
        return insert(job)

    monkeypatch.setattr(submit_service, "_job_inserted", insert_after_the_second_tried)
    outcomes: dict[str, str] = {}

    def one_submit() -> None:
        name = threading.current_thread().name
        try:
            services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
            outcomes[name] = "accepted"
        except JobQuotaExceeded:
            outcomes[name] = "refused"
        finally:
            if name == "second":
                second_done.set()
            connection.close()

    first = threading.Thread(target=one_submit, name="first")
    second = threading.Thread(target=one_submit, name="second")
    first.start()
    assert first_counted.wait(timeout=10)
    second.start()
    first.join(timeout=20)
    second.join(timeout=20)

    assert outcomes == {"first": "accepted", "second": "refused"}
    assert Job.objects.filter(owner=alice).count() == 3
