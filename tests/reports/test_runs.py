"""Report runs as jobs: the generate job writes and records the file; the schedule expires it."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.jobs import runner
from apps.jobs import services as jobs_services
from apps.jobs.errors import JobInputError
from apps.jobs.models import Status
from apps.jobs.registry import kind_get
from apps.reports import services
from apps.reports.models import ReportRun

# runner.execute() reopens its database connection, as in a worker: the rows must be
# committed for that (PostgreSQL), so these tests run outside a transaction.
runs_jobs = pytest.mark.django_db(transaction=True)


@runs_jobs
def test_generate_job_writes_the_file_and_records_rows_size_and_checksum(alice, small_data, media):
    run = services.report_run_create(
        owner=alice, report="orders_export", params={"status": "F"}, format="csv"
    )
    assert run.state == "queued"

    assert runner.execute(run.job.pk) == "succeeded"

    run.refresh_from_db()
    run.job.refresh_from_db()
    assert run.state == "ready"
    data = default_storage.open(run.file_name).read()
    assert run.rows == 2
    assert run.size == len(data)
    assert run.checksum == hashlib.sha256(data).hexdigest()
    assert data.decode().splitlines()[1].startswith("1,1,F,1000.00,1993-11-05,")
    assert run.file_name.startswith(f"reports/{run.uuid}/orders_export-")
    assert run.job.result["rows"] == 2
    assert run.job.result["sha256"] == run.checksum
    assert run.job.progress_done == run.job.progress_total == 2
    assert run.expires_at > timezone.now() + timedelta(days=6)


@runs_jobs
def test_a_generate_job_submitted_through_the_jobs_api_gets_a_run_of_its_owner(alice, small_data, media):
    job = jobs_services.enqueue(
        "reports.generate",
        params={"report": "returned_items", "params": {}, "format": "xlsx"},
        owner=alice,
        user_submitted=True,
    )
    assert runner.execute(job.pk) == "succeeded"

    run = ReportRun.objects.get(job=job)
    assert run.owner == alice
    assert run.format == "xlsx"
    assert run.params == {"date": "1993-10-01"}
    assert run.rows == 1
    assert Path(default_storage.path(run.file_name)).read_bytes()[:2] == b"PK"


@pytest.mark.django_db
def test_a_generate_job_with_bad_params_is_refused_when_submitted(alice):
    with pytest.raises(JobInputError) as caught:
        jobs_services.enqueue(
            "reports.generate", params={"report": "pricing_summary", "params": {"delta": -1}}, owner=alice
        )
    assert "delta: Input should be greater than or equal to 0" in str(caught.value)


@pytest.mark.django_db
def test_regenerating_a_run_replaces_its_file(alice, small_data, media):
    run = services.report_run_create(owner=alice, report="orders_export", params={}, format="csv")
    services.report_run_generate(run=run)
    first = run.file_name
    run.generated_at = run.generated_at - timedelta(seconds=5)
    run.save()
    services.report_run_generate(run=run)
    assert run.file_name != first
    assert not default_storage.exists(first)
    assert default_storage.exists(run.file_name)


@pytest.mark.django_db
def test_expiry_deletes_old_files_and_keeps_the_runs(alice, small_data, media):
    old = services.report_run_create(owner=alice, report="orders_export", params={}, format="csv")
    fresh = services.report_run_create(owner=alice, report="orders_export", params={}, format="csv")
    for run in (old, fresh):
        services.report_run_generate(run=run)
    ReportRun.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    old_file = ReportRun.objects.get(pk=old.pk).file_name

    assert services.report_runs_expire() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.state == "expired"
    assert old.file_name == ""
    assert not default_storage.exists(old_file)
    assert fresh.state == "ready"
    assert default_storage.exists(fresh.file_name)
    assert services.report_runs_expire() == 0


@runs_jobs
def test_expiry_runs_hourly_as_a_scheduled_job_kind(alice, small_data, media):
    kind = kind_get("reports.expire")
    assert kind.every == timedelta(hours=1)
    assert not kind.public
    run = services.report_run_create(owner=alice, report="orders_export", params={}, format="csv")
    services.report_run_generate(run=run)
    ReportRun.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    job = jobs_services.enqueue("reports.expire")
    assert runner.execute(job.pk) == "succeeded"

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert job.result == {"deleted": 1}
