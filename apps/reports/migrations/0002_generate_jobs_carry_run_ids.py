"""A generate job carries only the id of the run that records its request.

Jobs recorded before carried the request itself ({"report", "params", "format"}); a job
submitted through the jobs API got its run only when it ran. Each such job now points at
its run, recorded here from the job's request if it had none yet, so that jobs still
waiting when this is deployed run as before.
"""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

GENERATE_JOB = "reports.generate"


def jobs_carry_run_ids(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    ReportRun = apps.get_model("reports", "ReportRun")
    expires_at = timezone.now() + timedelta(days=settings.REPORTS_RETENTION_DAYS)
    old = Job.objects.filter(kind=GENERATE_JOB).exclude(params__has_key="run_id")
    for job in list(old.only("id", "params", "owner_id")):
        run = ReportRun.objects.filter(job_id=job.pk).first()
        if run is None:
            run = ReportRun.objects.create(
                report=job.params.get("report", ""),
                params=job.params.get("params") or {},
                format=job.params.get("format") or "csv",
                job_id=job.pk,
                owner_id=job.owner_id,
                expires_at=expires_at,
            )
        Job.objects.filter(pk=job.pk).update(params={"run_id": run.pk})


def jobs_carry_requests(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    ReportRun = apps.get_model("reports", "ReportRun")
    for run in list(ReportRun.objects.filter(job__kind=GENERATE_JOB)):
        request = {"report": run.report, "params": run.params, "format": run.format}
        Job.objects.filter(pk=run.job_id).update(params=request)


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0003_bounded_run_at_and_system_queue"),
        ("reports", "0001_initial"),
    ]

    operations = [migrations.RunPython(jobs_carry_run_ids, jobs_carry_requests)]
