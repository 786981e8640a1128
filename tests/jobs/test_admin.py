"""The jobs admin: a read-only record for staff, changed only through its actions."""

import pytest
from django.urls import reverse

from apps.jobs import runner, services
from apps.jobs.models import Job, Status
from tests.jobs.conftest import run_until_dead, runs_jobs

pytestmark = pytest.mark.django_db


CHANGELIST = reverse("admin:jobs_job_changelist")


def change_url(job: Job) -> str:
    return reverse("admin:jobs_job_change", args=[job.pk])


def test_staff_sees_the_changelist(ops_client, alice):
    job = services.enqueue("diagnostics.sleep", params={"seconds": 1}, owner=alice)

    response = ops_client.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert str(job.uuid)[:8] in page
    assert "diagnostics.sleep" in page and "alice" in page
    assert "0/1" in page


def test_non_staff_is_redirected_to_admin_login(alice_client):
    response = alice_client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_is_redirected_to_admin_login(client):
    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_changelist_filters_and_searches(ops_client, alice, bob):
    mine = services.enqueue("diagnostics.noop", owner=alice)
    theirs = services.enqueue("diagnostics.sleep", owner=bob)
    services.job_cancel(job=theirs)

    def listed(**query) -> set[str]:
        page = ops_client.get(CHANGELIST, query).content.decode()
        return {str(job.uuid)[:8] for job in (mine, theirs) if str(job.uuid)[:8] in page}

    assert listed(status__exact="cancelled") == {str(theirs.uuid)[:8]}
    assert listed(kind="diagnostics.noop") == {str(mine.uuid)[:8]}
    assert listed(owner__id__exact=str(bob.pk)) == {str(theirs.uuid)[:8]}
    assert listed(q="alice") == {str(mine.uuid)[:8]}
    assert listed(q=str(theirs.uuid)) == {str(theirs.uuid)[:8]}


def test_changelist_query_count_does_not_grow_with_jobs(
    ops_client, alice, bob, django_assert_max_num_queries
):
    for owner in (alice, bob) * 10:
        services.enqueue("diagnostics.noop", owner=owner)

    # Session, user, permissions (2), count, page, owner filter choices; never one per job.
    with django_assert_max_num_queries(7):
        assert ops_client.get(CHANGELIST).status_code == 200


@runs_jobs
def test_job_page_is_read_only_with_attempts_history(ops_client, alice):
    job = run_until_dead(services.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))

    response = ops_client.get(change_url(job))

    assert response.status_code == 200
    page = response.content.decode()
    # The job keeps the last error; each attempt's own is in the history below it.
    for attempt in (1, 2, 3):
        assert f"Failing on purpose (attempt {attempt} of the first 5)" in page
    assert 'name="_save"' not in page
    before = Job.objects.values().get(pk=job.pk)
    ops_client.post(change_url(job), {"status": "succeeded"})
    assert Job.objects.values().get(pk=job.pk) == before


def test_staff_cannot_add_or_delete_jobs(ops_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)

    assert ops_client.get(reverse("admin:jobs_job_add")).status_code == 403
    assert ops_client.get(reverse("admin:jobs_job_delete", args=[job.pk])).status_code == 403
    assert Job.objects.filter(pk=job.pk).exists()


@runs_jobs
def test_retry_action_replays_dead_jobs_and_names_those_it_could_not(ops_client, alice):
    dead = run_until_dead(services.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))
    queued = services.enqueue("diagnostics.noop", owner=alice)
    assert dead.status == Status.DEAD

    response = ops_client.post(
        CHANGELIST,
        {"action": "retry_selected", "_selected_action": [dead.pk, queued.pk]},
        follow=True,
    )

    dead.refresh_from_db()
    assert dead.status == Status.QUEUED
    assert dead.attempt_history.count() == 3
    texts = [str(message) for message in response.context["messages"]]
    assert "Retried 1 job." in texts
    assert any(text.startswith(f"1 job could not be retried: {str(queued.uuid)[:8]}") for text in texts)


@runs_jobs
def test_cancel_action_cancels_waiting_and_asks_running_to_stop(ops_client, alice):
    waiting = services.enqueue("diagnostics.noop", owner=alice)
    running = services.enqueue("diagnostics.noop", owner=alice)
    services.job_claim(job_id=running.pk, worker="test:1")
    finished = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(finished.pk)

    response = ops_client.post(
        CHANGELIST,
        {"action": "cancel_selected", "_selected_action": [waiting.pk, running.pk, finished.pk]},
        follow=True,
    )

    waiting.refresh_from_db()
    running.refresh_from_db()
    finished.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    assert running.status == Status.RUNNING and running.cancel_requested_at is not None
    assert finished.status == Status.SUCCEEDED
    texts = [str(message) for message in response.context["messages"]]
    assert "Cancelled 1 job." in texts
    assert any(text.startswith("Asked 1 running job to stop") for text in texts)
    assert any("could not be cancelled" in text and str(finished.uuid)[:8] in text for text in texts)


def test_job_page_progress_figures_agree_with_the_percentage(ops_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    Job.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED, progress_done=0, progress_total=None)

    page = ops_client.get(change_url(job)).content.decode()

    assert "done (0 counted, no total reported)" in page
    assert "100%" not in page
