"""The jobs JSON API: submit, watch, cancel, retry; access and errors (lists: test_api_lists.py)."""

import datetime
import socket
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from apps.core.services import api_token_create
from apps.jobs import runner, services
from apps.jobs.models import Job, JobAttempt, Status
from tests.jobs.conftest import JOBS_URL, runs_jobs

pytestmark = pytest.mark.django_db


def job_url(job: Job, action: str = "") -> str:
    return f"{JOBS_URL}/{job.uuid}" + (f"/{action}" if action else "")


def run_until_settled(job: Job) -> Job:
    """Run attempts inline, bringing each pending retry forward, until the job stops waiting."""
    for _ in range(20):
        job.refresh_from_db()
        if job.status == Status.FAILED:
            services.jobs_publish_due(now=job.run_at + datetime.timedelta(seconds=1))
            job.refresh_from_db()
        if job.status != Status.QUEUED:
            return job
        runner.execute(job.pk)
    raise AssertionError(f"job {job.uuid} never settled (status {job.status})")


# --- Access ---------------------------------------------------------------------------


def test_anonymous_gets_401(client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)

    for response in (
        client.get(JOBS_URL),
        client.get(job_url(job)),
        client.get(f"{JOBS_URL}/kinds"),
        client.post(JOBS_URL, {"kind": "diagnostics.noop"}, content_type="application/json"),
        client.post(job_url(job, "cancel")),
    ):
        assert response.status_code == 401
        assert "Authentication required" in response.json()["message"]
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_other_user_gets_404(client, alice, bob):
    job = services.enqueue("diagnostics.noop", owner=alice)
    client.force_login(bob)

    assert client.get(job_url(job)).status_code == 404
    assert client.post(job_url(job, "cancel")).status_code == 404
    assert client.post(job_url(job, "retry")).status_code == 404
    assert client.get(JOBS_URL, {"ids": str(job.uuid)}).json()["items"] == []
    assert client.get(JOBS_URL).json()["items"] == []
    job.refresh_from_db()
    assert job.status == Status.QUEUED


def test_unknown_or_malformed_job_id_gets_404(alice_client):
    assert alice_client.get(f"{JOBS_URL}/{uuid.uuid4()}").json() == {"message": "No such job."}
    assert alice_client.get(f"{JOBS_URL}/not-a-uuid").status_code == 404


def test_staff_sees_and_cancels_anyones_job(client, alice, ops):
    job = services.enqueue("diagnostics.noop", owner=alice)
    client.force_login(ops)

    assert client.get(job_url(job)).json()["id"] == str(job.uuid)
    assert [item["id"] for item in client.get(JOBS_URL).json()["items"]] == [str(job.uuid)]
    assert client.post(job_url(job, "cancel")).json()["status"] == "cancelled"


def test_token_authenticates_without_session(alice):
    _, raw = api_token_create(user=alice, name="laptop")
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        JOBS_URL,
        {"kind": "diagnostics.noop"},
        content_type="application/json",
        headers={"authorization": f"Bearer {raw}"},
    )

    assert response.status_code == 202
    assert Job.objects.get().owner == alice


def test_session_post_without_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(JOBS_URL, {"kind": "diagnostics.noop"}, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
    assert not Job.objects.exists()


# --- Submitting -----------------------------------------------------------------------


def test_owner_submits_job_and_gets_its_url(alice_client, alice):
    response = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.sleep", "params": {"seconds": 0, "steps": 2}},
        content_type="application/json",
    )

    assert response.status_code == 202
    body = response.json()
    job = Job.objects.get()
    assert job.owner == alice and job.params == {"seconds": 0.0, "steps": 2}
    assert body["id"] == str(job.uuid)
    assert body["status"] == "queued"
    assert body["url"] == f"http://testserver/api/jobs/{job.uuid}"
    assert body["page_url"] == f"http://testserver/jobs/{job.uuid}/"
    assert response["Location"] == body["url"]
    assert body["progress"] == {"done": 0, "total": None, "percent": None, "message": "", "eta_seconds": None}


@runs_jobs
def test_submitted_job_runs_and_owner_sees_result_and_progress(alice_client):
    body = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.sleep", "params": {"seconds": 0, "steps": 4}},
        content_type="application/json",
    ).json()

    assert runner.execute(Job.objects.get().pk) == "succeeded"

    job = alice_client.get(body["url"]).json()
    assert job["status"] == "succeeded"
    assert job["result"] == {"slept": 0.0}
    assert job["progress"]["percent"] == 100.0
    assert job["progress"]["done"] == job["progress"]["total"] == 4
    assert job["attempts"] == 1
    assert job["started_at"] and job["finished_at"]
    assert [attempt["outcome"] for attempt in job["history"]] == ["succeeded"]
    assert job["log"][-1].endswith("slept 0s in 4 steps")


def test_unknown_kind_is_422_naming_it(alice_client):
    response = alice_client.post(JOBS_URL, {"kind": "reports.nope"}, content_type="application/json")

    assert response.status_code == 422
    assert "'reports.nope'" in response.json()["message"]
    assert not Job.objects.exists()


def test_params_of_wrong_type_is_422_naming_the_field(alice_client):
    response = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.sleep", "params": {"seconds": "soon"}},
        content_type="application/json",
    )

    assert response.status_code == 422
    message = response.json()["message"]
    assert "diagnostics.sleep" in message and "seconds" in message
    assert not Job.objects.exists()


def test_unexpected_param_is_422(alice_client):
    response = alice_client.post(
        JOBS_URL, {"kind": "diagnostics.noop", "params": {"colour": "red"}}, content_type="application/json"
    )

    assert response.status_code == 422
    assert "colour" in response.json()["message"]
    assert not Job.objects.exists()


def test_params_that_are_not_an_object_are_422(alice_client):
    response = alice_client.post(
        JOBS_URL, {"kind": "diagnostics.noop", "params": [1, 2]}, content_type="application/json"
    )

    assert response.status_code == 422
    assert "params" in response.json()["message"]
    assert not Job.objects.exists()


def test_non_staff_cannot_submit_non_public_kind(alice_client):
    response = alice_client.post(JOBS_URL, {"kind": "diagnostics.hang"}, content_type="application/json")

    assert response.status_code == 403
    assert response.json() == {"message": "Job kind 'diagnostics.hang' can only be submitted by staff."}
    assert not Job.objects.exists()


def test_staff_can_submit_non_public_kind(ops_client, ops):
    response = ops_client.post(
        JOBS_URL, {"kind": "diagnostics.hang", "params": {"seconds": 1}}, content_type="application/json"
    )

    assert response.status_code == 202
    assert Job.objects.get().owner == ops


def test_unknown_queue_is_422(alice_client):
    response = alice_client.post(
        JOBS_URL, {"kind": "diagnostics.noop", "queue": "urgent"}, content_type="application/json"
    )

    assert response.status_code == 422
    assert "queue" in response.json()["message"]
    assert not Job.objects.exists()


def test_a_lower_queue_can_be_chosen(alice_client):
    response = alice_client.post(
        JOBS_URL, {"kind": "diagnostics.noop", "queue": "low"}, content_type="application/json"
    )

    assert response.json()["queue"] == "low"
    assert Job.objects.get().queue == "low"


def test_run_at_in_the_future_schedules_the_job(alice_client):
    later = timezone.now() + datetime.timedelta(hours=1)

    body = alice_client.post(
        JOBS_URL, {"kind": "diagnostics.noop", "run_at": later.isoformat()}, content_type="application/json"
    ).json()

    assert body["status"] == "scheduled"
    due = datetime.datetime.fromisoformat(body["run_at"].replace("Z", "+00:00"))
    assert abs(due - later) < datetime.timedelta(milliseconds=1)


def test_run_at_without_timezone_is_422(alice_client):
    response = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.noop", "run_at": "2030-01-01T12:00:00"},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "run_at" in response.json()["message"] and "timezone" in response.json()["message"]
    assert not Job.objects.exists()


def fake_dns(monkeypatch, address: str) -> None:
    """Name resolution answered here: tests never send a packet beyond loopback."""

    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_webhook_url_must_be_http(alice_client, monkeypatch):
    fake_dns(monkeypatch, "93.184.215.14")
    bad = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.noop", "webhook_url": "file:///etc/passwd"},
        content_type="application/json",
    )
    good = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.noop", "webhook_url": "https://example.com/hooks/tempo"},
        content_type="application/json",
    )

    assert bad.status_code == 422 and "webhook_url" in bad.json()["message"]
    assert good.status_code == 202
    assert Job.objects.get().webhook_url == "https://example.com/hooks/tempo"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/hook", "http://10.0.0.5/hook", "http://[::1]/hook", "http://169.254.169.254/"]
)
def test_webhook_url_to_a_private_address_is_refused(alice_client, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = alice_client.post(
        JOBS_URL, {"kind": "diagnostics.noop", "webhook_url": url}, content_type="application/json"
    )

    assert response.status_code == 422
    assert "webhook_url" in response.json()["message"] and "address" in response.json()["message"]
    assert not Job.objects.exists()


def test_webhook_url_whose_name_resolves_privately_is_refused(alice_client, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    fake_dns(monkeypatch, "192.168.1.20")
    response = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.noop", "webhook_url": "https://hooks.example.com/x"},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "192.168.1.20" in response.json()["message"]
    assert not Job.objects.exists()


def test_same_idempotency_key_returns_the_same_job(alice_client):
    payload = {"kind": "diagnostics.sleep", "params": {"seconds": 1}, "idempotency_key": "import-42"}

    first = alice_client.post(JOBS_URL, payload, content_type="application/json").json()
    second = alice_client.post(JOBS_URL, payload, content_type="application/json").json()

    assert first["id"] == second["id"]
    assert Job.objects.count() == 1


def test_idempotency_key_reused_for_another_job_is_409(alice_client):
    alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.sleep", "params": {"seconds": 1}, "idempotency_key": "k"},
        content_type="application/json",
    )

    response = alice_client.post(
        JOBS_URL,
        {"kind": "diagnostics.sleep", "params": {"seconds": 2}, "idempotency_key": "k"},
        content_type="application/json",
    )

    assert response.status_code == 409
    assert "'k'" in response.json()["message"]
    assert Job.objects.count() == 1


def test_idempotency_keys_of_different_users_do_not_collide(client, alice, bob):
    for user in (alice, bob):
        client.force_login(user)
        client.post(
            JOBS_URL, {"kind": "diagnostics.noop", "idempotency_key": "k"}, content_type="application/json"
        )

    assert Job.objects.filter(idempotency_key="k").count() == 2


# --- Kinds ----------------------------------------------------------------------------


def test_user_sees_public_kinds_with_their_params_schema(alice_client):
    kinds = {kind["name"]: kind for kind in alice_client.get(f"{JOBS_URL}/kinds").json()}

    assert "diagnostics.sleep" in kinds
    assert "diagnostics.hang" not in kinds
    assert "jobs.prune" not in kinds
    sleep = kinds["diagnostics.sleep"]
    assert sleep["public"] is True and sleep["queue"] == "default"
    assert sleep["description"].startswith("Sleeps in steps")
    assert set(sleep["params_schema"]["properties"]) == {"seconds", "steps"}


def test_staff_sees_every_kind(ops_client):
    names = [kind["name"] for kind in ops_client.get(f"{JOBS_URL}/kinds").json()]

    assert {"diagnostics.hang", "jobs.prune", "diagnostics.noop"} <= set(names)


# --- Cancel and retry -----------------------------------------------------------------


@runs_jobs
def test_owner_cancels_waiting_job(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)

    response = alice_client.post(job_url(job, "cancel"))

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert runner.execute(job.pk) == "not claimed"


def test_cancelling_running_job_asks_it_to_stop(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    services.job_claim(job_id=job.pk, worker="test:1")

    body = alice_client.post(job_url(job, "cancel")).json()

    assert body["status"] == "running"
    assert body["cancel_requested"] is True


@runs_jobs
def test_cancelling_finished_job_is_409(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(job.pk)

    response = alice_client.post(job_url(job, "cancel"))

    assert response.status_code == 409
    assert response.json() == {"message": "The job already ended (succeeded)."}


@runs_jobs
def test_dead_job_replays_keeping_history(alice_client, alice):
    job = services.enqueue("diagnostics.fail", params={"times": 3}, owner=alice)
    job = run_until_settled(job)
    assert job.status == Status.DEAD and job.attempts == 3

    response = alice_client.post(job_url(job, "retry"))

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["attempts"] == 3 and body["max_attempts"] == 6
    job = run_until_settled(job)
    assert job.status == Status.SUCCEEDED
    detail = alice_client.get(job_url(job)).json()
    assert [a["outcome"] for a in detail["history"]] == ["failed", "failed", "failed", "succeeded"]
    assert detail["result"] == {"succeeded_on_attempt": 4}


@runs_jobs
def test_failed_job_retries_now_instead_of_waiting(alice_client, alice):
    job = services.enqueue("diagnostics.fail", params={"times": 1}, owner=alice)
    runner.execute(job.pk)
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.run_at > timezone.now()

    body = alice_client.post(job_url(job, "retry")).json()

    assert body["status"] == "queued" and body["run_at"] is None
    assert runner.execute(job.pk) == "succeeded"
    assert JobAttempt.objects.filter(job=job).count() == 2


def test_retrying_queued_job_is_409(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)

    response = alice_client.post(job_url(job, "retry"))

    assert response.status_code == 409
    assert "Only dead, cancelled or failed jobs" in response.json()["message"]
    job.refresh_from_db()
    assert job.status == Status.QUEUED


@runs_jobs
def test_cancelled_job_can_be_replayed(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    alice_client.post(job_url(job, "cancel"))

    assert alice_client.post(job_url(job, "retry")).json()["status"] == "queued"
    assert runner.execute(job.pk) == "succeeded"


def test_openapi_schema_documents_the_jobs_endpoints(alice_client):
    schema = alice_client.get("/api/openapi.json").json()

    assert {"/api/jobs", "/api/jobs/kinds", "/api/jobs/{job_id}", "/api/jobs/{job_id}/retry"} <= set(
        schema["paths"]
    )
    assert {"202", "403", "422"} <= set(schema["paths"]["/api/jobs"]["post"]["responses"])
