"""Jobs whose ends a worker recorded together: each owner is told in the app once per
status ("3 diagnostics.noop jobs succeeded"), a single job still by its own notification,
with one INSERT and one bell refresh for all owners; e-mails stay one per job."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.jobs import services as jobs
from apps.jobs.models import Job, Status
from apps.notifications import selectors, services
from apps.notifications.models import EmailMessage, Notification
from tests.conftest import missing

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("published", "quiet_heartbeat"),
]


def ended_together(*owners) -> list[Job]:
    """One noop job per owner given, succeeded, told of together (as a worker's batch is)."""
    jobs_ = [jobs.enqueue("diagnostics.noop", owner=owner) for owner in owners]
    Job.objects.filter(pk__in=[job.pk for job in jobs_]).update(
        status=Status.SUCCEEDED, attempts=1, finished_at=timezone.now()
    )
    ended = list(Job.objects.filter(pk__in=[job.pk for job in jobs_]).order_by("pk"))
    services.jobs_finished_notify(ends=[(job, Status.SUCCEEDED) for job in ended])
    return ended


def test_a_workers_batch_reaches_the_owners_together(alice, bob):
    """Through the jobs app: successes recorded in one statement (PostgreSQL) are told together."""
    if connection.vendor != "postgresql":
        missing("successes are recorded together on PostgreSQL only: DATABASE_URL=postgres://…")
    claimed = [
        jobs.job_claim(job_id=jobs.enqueue("diagnostics.noop", owner=owner).pk, worker="test:1")
        for owner in (alice, alice, bob)
    ]
    successes = [
        jobs.Success(
            job=job, attempt=1, result={}, progress=(0, None, ""), log=[], finished_at=timezone.now()
        )
        for job in claimed
    ]

    assert len(jobs.jobs_succeed(successes=successes)) == 3

    assert list(Notification.objects.filter(recipient=alice).values_list("title", flat=True)) == [
        "2 diagnostics.noop jobs succeeded"
    ]
    assert Notification.objects.get(recipient=bob).title == "Job diagnostics.noop succeeded"


def test_one_job_of_an_owner_in_a_batch_gets_its_own_notification(alice, bob):
    alice_job, _ = ended_together(alice, bob)

    notification = Notification.objects.get(recipient=alice)
    assert notification.title == "Job diagnostics.noop succeeded"
    assert notification.link == reverse("jobs:detail", args=[alice_job.uuid])
    assert Notification.objects.filter(recipient=bob).count() == 1


def test_several_jobs_of_an_owner_are_one_notification_and_one_bell_refresh(alice, bob):
    with CaptureQueriesContext(connection) as captured:
        ended = ended_together(alice, alice, bob, alice)

    assert len(ended) == 4
    notification = Notification.objects.get(recipient=alice)
    assert notification.title == "3 diagnostics.noop jobs succeeded"
    assert notification.link == reverse("jobs:list")
    assert notification.level == "success"
    assert Notification.objects.get(recipient=bob).title == "Job diagnostics.noop succeeded"
    assert selectors.bell_state_cached(user=alice)["unread"] == 1
    assert (
        selectors.bell_state_cached(user=alice)["latest"][0]["title"] == "3 diagnostics.noop jobs succeeded"
    )
    assert selectors.bell_state_cached(user=bob)["unread"] == 1
    if connection.vendor == "postgresql":
        statements = [q["sql"] for q in captured if '"notifications_notification"' in q["sql"]]
        # One INSERT of both owners' notifications, one statement for both bells.
        assert len(statements) == 2, statements
        assert statements[0].startswith("INSERT INTO")


def test_ends_of_different_statuses_are_told_apart_and_failures_still_mail_each(alice):
    first, second, third = (jobs.enqueue("diagnostics.noop", owner=alice) for _ in range(3))
    for job, status in ((first, Status.SUCCEEDED), (second, Status.DEAD), (third, Status.DEAD)):
        Job.objects.filter(pk=job.pk).update(status=status, attempts=1, error=f"boom {job.pk}")
    ends = [
        (Job.objects.get(pk=job.pk), status)
        for job, status in ((first, "succeeded"), (second, "dead"), (third, "dead"))
    ]

    services.jobs_finished_notify(ends=ends)

    titles = set(Notification.objects.filter(recipient=alice).values_list("title", flat=True))
    assert titles == {"Job diagnostics.noop succeeded", "2 diagnostics.noop jobs failed"}
    failed = Notification.objects.get(recipient=alice, title="2 diagnostics.noop jobs failed")
    assert f"boom {second.pk}" in failed.body and f"boom {third.pk}" in failed.body
    assert failed.level == "error"
    # E-mail (on by default for failures) stays one per job.
    assert EmailMessage.objects.filter(recipient=alice, event="job.dead").count() == 2


def test_an_owner_who_turned_in_app_off_gets_nothing_in_the_app(alice, bob):
    services.preferences_set(user=alice, choices={("job.succeeded", "in_app"): False})

    ended_together(alice, alice, bob)

    assert not Notification.objects.filter(recipient=alice).exists()
    assert Notification.objects.filter(recipient=bob).count() == 1
