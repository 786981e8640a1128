"""REPORTS_INLINE: the report form and POST /api/reports write the file within the request.

The load test's "before" mode runs with it on, to measure the system as it was before
reports became jobs; off (the default), both queue a job, as test_api and test_pages check.
"""

import pytest
from django.urls import reverse

from apps.jobs.models import Job
from apps.reports import services
from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def inline(settings, media):
    settings.REPORTS_INLINE = True
    # A quota that a queued run would hit at once: inline runs are not jobs and skip it.
    settings.REPORTS_USER_MAX_ACTIVE = 1


def test_api_answers_201_with_the_finished_run_and_no_job(alice_client, alice, small_data, inline):
    for _ in range(2):
        response = alice_client.post(
            "/api/reports", {"report": "returned_items", "format": "csv"}, content_type="application/json"
        )
        assert response.status_code == 201
    body = response.json()
    run = ReportRun.objects.get(uuid=body["id"])
    assert response["Location"] == body["url"]
    assert body["state"] == "ready"
    assert body["rows"] == 1
    assert body["job"] is None
    assert body["download_url"].endswith(f"/api/reports/{run.uuid}/download")
    assert run.owner == alice
    assert not Job.objects.exists()
    download = alice_client.get(body["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content).count(b"\n") == 2


def test_api_refuses_a_bad_request_with_422_and_writes_nothing(alice_client, inline):
    response = alice_client.post(
        "/api/reports", {"report": "lineitems_export", "format": "xlsx"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "available as csv" in response.json()["message"]
    assert not ReportRun.objects.exists()


def test_form_writes_the_run_and_shows_it_ready(alice_client, alice, small_data, inline):
    response = alice_client.post(
        reverse("reports:new", args=["returned_items"]), {"date": "1993-10-01", "format": "xlsx"}
    )
    run = ReportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:run", args=[run.uuid])
    assert run.is_ready
    assert run.job is None
    assert (run.rows, run.format) == (1, "xlsx")
    assert "ready" in alice_client.get(response["Location"]).content.decode().lower()


def test_off_by_default_the_request_queues_a_job(alice, settings):
    assert settings.REPORTS_INLINE is False
    run = services.report_run_request(owner=alice, report="pricing_summary", params={}, format="csv")
    assert run.job.kind == services.GENERATE_JOB
    assert not run.is_ready


def test_a_run_whose_writing_fails_is_left_failed_and_the_error_propagates(
    alice, small_data, inline, monkeypatch
):
    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services, "report_file_write", broken)
    with pytest.raises(OSError, match="disk full"):
        services.report_run_inline(owner=alice, report="returned_items", params={}, format="csv")
    assert ReportRun.objects.get().state == "failed"
