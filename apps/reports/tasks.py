"""Job kinds of the reports app: generating a report file, and the hourly clean-up."""

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from apps.jobs.errors import PermanentJobError
from apps.jobs.models import Queue
from apps.jobs.registry import UserQuota, job
from apps.reports import selectors, services


class GenerateJob(BaseModel):
    """What a generate job carries: the id of the run that records its request."""

    model_config = ConfigDict(extra="forbid")
    run_id: int = Field(ge=1)


@job(
    services.GENERATE_JOB,
    queue=Queue.DEFAULT,
    max_attempts=2,
    timeout=3600,
    public=True,
    params=GenerateJob,
    # Every submit, the jobs API's too, goes through the reports service: it validates
    # the request (GenerateParams, what users see as this kind's parameters) and records
    # the run, whose id the job then carries.
    submit=services.report_run_submit,
    submit_params=services.GenerateParams,
    # Counted however the run was asked for: report pages, the reports API, or the jobs API.
    user_quota=UserQuota("REPORTS_USER_MAX_ACTIVE", "report runs"),
)
def generate(ctx, params: GenerateJob) -> dict:
    """Generates a report or export file for download."""
    run = selectors.report_run_get(run_id=params.run_id)
    if run is None:
        raise PermanentJobError(f"Report run {params.run_id} no longer exists: there is nothing to write.")
    result = services.report_run_generate(run=run, progress=ctx)
    ctx.log(f"{result['rows']:,} rows, {result['size']:,} bytes, sha256 {result['sha256'][:12]}…")
    return result


@job("reports.expire", queue=Queue.SYSTEM, max_attempts=3, timeout=600, every=timedelta(hours=1))
def expire(ctx, params) -> dict:
    """Deletes report files past their retention period."""
    return {"deleted": services.report_runs_expire()}
