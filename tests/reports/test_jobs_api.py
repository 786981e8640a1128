"""A generate job asked for through the jobs API (POST /api/jobs, kind reports.generate):
its request is validated and recorded as a report run by the reports service, and the job
carries only that run's id."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.jobs import runner
from apps.jobs import services as jobs_services
from apps.jobs.errors import JobIdempotencyConflict
from apps.jobs.models import Job, Status
from apps.jobs.services import submit as submit_service
from apps.reports import services
from apps.reports.models import ReportRun
from tests.jobs.conftest import submit

REQUEST = {"report": "pricing_summary", "params": {"delta": 60}, "format": "xlsx"}


def submit_generate(client, request: dict = REQUEST, **body):
    return submit(client, kind="reports.generate", params=request, **body)


@pytest.mark.django_db
def test_a_submit_records_one_run_whose_job_carries_only_its_id(alice_client, alice):
    response = submit_generate(alice_client)

    assert response.status_code == 202
    run = ReportRun.objects.select_related("job").get()
    assert str(run.job.uuid) == response.json()["id"]
    assert run.job.params == {"run_id": run.pk}
    assert run.request == REQUEST
    assert run.owner == alice
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_an_idempotent_repeat_returns_the_first_job_and_records_no_second_run(alice_client):
    first = submit_generate(alice_client, idempotency_key="k")
    again = submit_generate(alice_client, idempotency_key="k")

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert ReportRun.objects.count() == 1
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_request_is_a_conflict(alice_client):
    first = submit_generate(alice_client, idempotency_key="k")

    response = submit_generate(alice_client, {**REQUEST, "format": "csv"}, idempotency_key="k")

    assert response.status_code == 409
    assert response.json()["message"] == (
        f"Idempotency key 'k' was already used for a different job (reports.generate {first.json()['id']})."
    )
    assert ReportRun.objects.count() == 1
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_key_first_used_for_another_kind_is_a_conflict_and_records_no_run(alice_client):
    assert submit(alice_client, kind="diagnostics.noop", idempotency_key="k").status_code == 202

    response = submit_generate(alice_client, idempotency_key="k")

    assert response.status_code == 409
    assert not ReportRun.objects.exists()
    assert Job.objects.count() == 1


@pytest.fixture
def a_racing_submit_wins(monkeypatch, alice):
    """Another submit with the key "k" and the request it is given inserts its job just
    before this one does (after this one looked the key up and found nothing). Here the
    racer runs inside this submit's transaction: a refused submit takes it back too."""

    def arm(request: dict) -> None:
        insert = submit_service._job_inserted
        raced: list[Job] = []

        def inserted_after_a_racer(job: Job) -> tuple[Job, bool]:
            if not raced:
                raced.append(job)
                jobs_services.enqueue("reports.generate", params=request, owner=alice, idempotency_key="k")
            return insert(job)

        monkeypatch.setattr(submit_service, "_job_inserted", inserted_after_a_racer)

    return arm


@pytest.mark.django_db
def test_losing_a_race_to_the_same_request_returns_the_winners_job_and_run(alice, a_racing_submit_wins):
    a_racing_submit_wins(REQUEST)

    job, created = jobs_services.job_get_or_enqueue(
        "reports.generate", params=REQUEST, owner=alice, idempotency_key="k"
    )

    assert not created
    run = ReportRun.objects.get()
    assert run.job == job
    assert job.params == {"run_id": run.pk}
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_losing_a_race_to_another_request_is_a_conflict(alice, a_racing_submit_wins):
    a_racing_submit_wins({**REQUEST, "format": "csv"})

    with pytest.raises(JobIdempotencyConflict):
        jobs_services.enqueue("reports.generate", params=REQUEST, owner=alice, idempotency_key="k")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"report": "no_such"}, "Unknown report 'no_such'"),
        (
            {"report": "pricing_summary", "params": {"delta": -1}},
            "delta: Input should be greater than or equal to 0",
        ),
        ({"report": "orders_export", "format": "xlsx"}, "orders_export is available as csv (got 'xlsx')."),
        ({"report": "pricing_summary", "format": "pdf"}, "Invalid params for reports.generate: format:"),
        ({"report": "pricing_summary", "colour": "red"}, "Invalid params for reports.generate: colour:"),
        ({}, "Invalid params for reports.generate: report: Field required"),
    ],
)
def test_a_bad_request_is_a_422_and_leaves_no_run_and_no_job(alice_client, request_, message):
    response = submit_generate(alice_client, request_)

    assert response.status_code == 422
    assert message in response.json()["message"]
    assert not ReportRun.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_submit_the_jobs_app_refuses_leaves_no_run_and_no_job(alice_client, broker_stubbed):
    response = submit_generate(alice_client, queue="high")

    assert response.status_code == 403
    assert response.json()["message"].startswith("reports.generate runs on the default queue")
    assert not ReportRun.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_run_is_gone_fails_permanently(alice, broker_stubbed):
    run = services.report_run_create(owner=alice, report="pricing_summary", params={})
    job, run_id = run.job, run.pk
    run.delete()

    runner.execute(job.pk)

    job.refresh_from_db()
    assert job.status == Status.DEAD
    assert job.attempts == 1
    assert job.error == f"Report run {run_id} no longer exists: there is nothing to write."


@pytest.mark.django_db
def test_the_job_page_admin_and_command_show_a_report_job_with_its_run_id(alice_client, ops_client, alice):
    run = services.report_run_create(owner=alice, report="pricing_summary", params={})
    shown = f"{{&quot;run_id&quot;: {run.pk}}}"

    page = alice_client.get(reverse("jobs:detail", args=[run.job.uuid]))
    assert page.status_code == 200
    assert shown in page.content.decode()

    admin = ops_client.get(reverse("admin:jobs_job_change", args=[run.job.pk]))
    assert admin.status_code == 200
    assert "run_id" in admin.content.decode()

    out = StringIO()
    call_command("jobs", "show", str(run.job.uuid), stdout=out)
    assert f'{{"run_id": {run.pk}}}' in out.getvalue()
