"""Generate jobs recorded before a job carried only its run's id ({"report", "params",
"format"}) are given their runs' ids when the reports app is migrated."""

import importlib

import pytest
from django.apps import apps

from apps.jobs.models import Job
from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db

migration = importlib.import_module("apps.reports.migrations.0002_generate_jobs_carry_run_ids")

REQUEST = {"report": "pricing_summary", "params": {"delta": 90}, "format": "xlsx"}


def generate_job(owner, params: dict) -> Job:
    return Job.objects.create(kind="reports.generate", params=params, owner=owner, timeout=3600)


def test_a_job_without_a_run_gets_one_of_its_owner_and_carries_its_id(alice):
    job = generate_job(alice, REQUEST)

    migration.jobs_carry_run_ids(apps, None)

    run = ReportRun.objects.get(job=job)
    assert run.request == REQUEST
    assert run.owner == alice
    job.refresh_from_db()
    assert job.params == {"run_id": run.pk}


def test_a_job_with_a_run_carries_that_runs_id_and_new_jobs_stay_as_they_are(alice):
    job = generate_job(alice, REQUEST)
    run = ReportRun.objects.create(job=job, owner=alice, expires_at=job.created_at, **REQUEST)
    newer = generate_job(alice, {"run_id": run.pk})
    other = Job.objects.create(kind="diagnostics.noop", params={"report": "x"}, timeout=10)

    migration.jobs_carry_run_ids(apps, None)

    assert ReportRun.objects.count() == 1
    job.refresh_from_db()
    newer.refresh_from_db()
    other.refresh_from_db()
    assert job.params == newer.params == {"run_id": run.pk}
    assert other.params == {"report": "x"}


def test_migrating_back_gives_each_job_its_runs_request_again(alice):
    job = generate_job(alice, REQUEST)
    migration.jobs_carry_run_ids(apps, None)

    migration.jobs_carry_requests(apps, None)

    job.refresh_from_db()
    assert job.params == REQUEST
