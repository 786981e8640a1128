"""submitJob and cancelJob: the rules, quotas and messages of POST /api/jobs and its cancel."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from apps.jobs import services as job_services
from apps.jobs.models import Job, Status
from tests.graphql_api.conftest import graphql

pytestmark = pytest.mark.django_db

SUBMIT = """
mutation($kind: String!, $params: JSON, $queue: String, $key: String) {
  submitJob(kind: $kind, params: $params, queue: $queue, idempotencyKey: $key) { id kind status queue params }
}
"""
CANCEL = "mutation($id: UUID!) { cancelJob(id: $id) { id status } }"


def submit(client, **variables):
    return graphql(client, SUBMIT, variables)


def error_of(response) -> dict:
    assert response.status_code == 200, response.content
    (error,) = response.data["errors"]
    return {"message": error["message"], **error["extensions"]}


def test_owner_submits_a_public_kind(alice_client, alice):
    response = submit(alice_client, kind="diagnostics.sleep", params={"seconds": 1, "steps": 2})

    job = Job.objects.get()
    assert response.data["data"]["submitJob"] == {
        "id": str(job.uuid),
        "kind": "diagnostics.sleep",
        "status": "queued",
        "queue": job.queue,
        "params": {"seconds": 1.0, "steps": 2},
    }
    assert job.owner == alice


def test_a_staff_only_kind_is_forbidden_with_the_apis_message(alice_client):
    response = submit(alice_client, kind="diagnostics.hang")

    assert error_of(response) == {
        "message": "Job kind 'diagnostics.hang' can only be submitted by staff.",
        "code": "FORBIDDEN",
    }
    assert not Job.objects.exists()


def test_staff_submits_a_staff_only_kind(ops_client, ops):
    response = submit(ops_client, kind="diagnostics.hang", params={"seconds": 1})

    assert "errors" not in response.data, response.data
    assert Job.objects.get().owner == ops


def test_an_unknown_kind_is_bad_input_naming_it(alice_client):
    response = submit(alice_client, kind="no.such.kind")

    assert error_of(response) == {
        "message": "Unknown job kind 'no.such.kind'; GET /api/jobs/kinds lists the ones you may submit.",
        "code": "BAD_USER_INPUT",
    }


def test_params_outside_the_kinds_user_bounds_are_bad_input(alice_client):
    response = submit(alice_client, kind="diagnostics.sleep", params={"seconds": 100000})

    error = error_of(response)
    assert error["code"] == "BAD_USER_INPUT"
    assert "seconds" in error["message"]
    assert not Job.objects.exists()


def test_params_that_are_not_an_object_are_bad_input(alice_client):
    response = submit(alice_client, kind="diagnostics.noop", params=[1, 2])

    assert error_of(response) == {
        "message": "Invalid input: params must be an object.",
        "code": "BAD_USER_INPUT",
    }


def test_a_queue_above_the_kinds_own_is_forbidden(alice_client):
    response = submit(alice_client, kind="diagnostics.noop", queue="high")

    error = error_of(response)
    assert error["code"] == "FORBIDDEN"
    assert "only staff a higher one (got 'high')" in error["message"]


def test_over_the_quota_is_quota_exceeded_with_retry_after(alice_client, settings):
    settings.JOBS_USER_MAX_ACTIVE = 2
    settings.JOBS_QUOTA_RETRY_AFTER = 30
    for _ in range(2):
        assert "errors" not in submit(alice_client, kind="diagnostics.noop").data

    response = submit(alice_client, kind="diagnostics.noop")

    assert error_of(response) == {
        "message": "You have 2 jobs waiting or running; the limit is 2 at a time (JOBS_USER_MAX_ACTIVE). "
        "Wait for one to finish, or cancel one, then submit again.",
        "code": "QUOTA_EXCEEDED",
        "retryAfter": 30,
    }
    assert Job.objects.count() == 2


def test_the_same_idempotency_key_returns_the_same_job(alice_client):
    first = submit(alice_client, kind="diagnostics.noop", key="nightly-1").data["data"]["submitJob"]
    again = submit(alice_client, kind="diagnostics.noop", key="nightly-1").data["data"]["submitJob"]

    assert again["id"] == first["id"]
    assert Job.objects.count() == 1


def test_an_idempotency_key_reused_for_another_job_is_a_conflict(alice_client):
    submit(alice_client, kind="diagnostics.noop", key="k")

    response = submit(alice_client, kind="diagnostics.sleep", key="k")

    assert error_of(response)["code"] == "CONFLICT"
    assert Job.objects.count() == 1


def test_owner_cancels_a_waiting_job(alice_client, alice):
    job = job_services.enqueue("diagnostics.noop", owner=alice)

    response = graphql(alice_client, CANCEL, {"id": str(job.uuid)})

    assert response.data["data"]["cancelJob"] == {"id": str(job.uuid), "status": "cancelled"}
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED


def test_another_user_cannot_cancel_and_is_told_not_found(alice, bob):
    job = job_services.enqueue("diagnostics.noop", owner=alice)
    client = Client()
    client.force_login(bob)

    response = graphql(client, CANCEL, {"id": str(job.uuid)})

    assert error_of(response) == {"message": "No such job.", "code": "NOT_FOUND"}
    assert response.data["data"] is None
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_staff_cancels_anyones_job(ops_client, alice):
    job = job_services.enqueue("diagnostics.noop", owner=alice)

    response = graphql(ops_client, CANCEL, {"id": str(job.uuid)})

    assert response.data["data"]["cancelJob"]["status"] == "cancelled"


def test_cancelling_a_finished_job_is_a_conflict(alice_client, alice):
    job = job_services.enqueue("diagnostics.noop", owner=alice)
    Job.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)

    response = graphql(alice_client, CANCEL, {"id": str(job.uuid)})

    assert error_of(response)["code"] == "CONFLICT"
    assert Job.objects.get(pk=job.pk).status == Status.SUCCEEDED


SCHEDULE = """
mutation($runAt: DateTime, $hook: String) {
  submitJob(kind: "diagnostics.noop", runAt: $runAt, webhookUrl: $hook) { status runAt }
}
"""


def test_run_at_in_the_future_schedules_the_job(alice_client):
    later = timezone.now() + datetime.timedelta(hours=1)

    response = graphql(alice_client, SCHEDULE, {"runAt": later.isoformat()})

    assert response.data["data"]["submitJob"]["status"] == "scheduled"
    assert Job.objects.get().run_at == later


def test_run_at_without_a_timezone_is_bad_input(alice_client):
    response = graphql(alice_client, SCHEDULE, {"runAt": "2030-01-01T12:00:00"})

    assert error_of(response) == {
        "message": "Invalid input: runAt needs a timezone, e.g. 2030-01-01T12:00:00Z.",
        "code": "BAD_USER_INPUT",
    }
    assert not Job.objects.exists()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "not a url"])
def test_a_webhook_url_that_is_not_http_is_bad_input(alice_client, url):
    response = graphql(alice_client, SCHEDULE, {"hook": url})

    assert error_of(response)["message"] == "Invalid input: webhookUrl must be an http:// or https:// URL."
    assert not Job.objects.exists()


def test_a_webhook_url_to_a_private_address_is_refused_as_by_the_api(alice_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False

    response = graphql(alice_client, SCHEDULE, {"hook": "http://169.254.169.254/latest"})

    error = error_of(response)
    assert error["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("webhook_url: ") and "address" in error["message"]
    assert not Job.objects.exists()
