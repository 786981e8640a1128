"""Job kinds of the reports app: generating a report file, and the hourly clean-up."""

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from apps.jobs.models import Queue
from apps.jobs.registry import UserQuota, job
from apps.reports import services


class GenerateParams(BaseModel):
    """What to generate: the request a run records (report, its parameters, format).

    Report pages, the reports API and the command submit through
    ``services.report_run_create``, which validates the request and records the run with
    its job. A job submitted to the jobs API directly gets no run until it runs
    (``services.report_run_for_job``), so its request is checked here, by the same
    service function, when it is submitted. The jobs app checks every job's parameters
    with its kind's model, so until it can hand a kind's submits to that kind's own
    service, report_run_create's requests pass through here a second time.
    """

    model_config = ConfigDict(extra="forbid")
    report: str = Field(description="Name of a report in the catalog (GET /api/reports/catalog).")
    params: dict = Field(default_factory=dict, description="The report's parameters.")
    format: Literal["csv", "xlsx"] = "csv"

    @model_validator(mode="after")
    def _known_report(self):
        _, clean, _ = services.report_request_validated(
            report=self.report, params=self.params, format=self.format
        )
        self.params = clean.model_dump(mode="json")
        return self


@job(
    services.GENERATE_JOB,
    queue=Queue.DEFAULT,
    max_attempts=2,
    timeout=3600,
    public=True,
    params=GenerateParams,
    # Counted however the run was asked for: report pages, the reports API, or the jobs API.
    user_quota=UserQuota("REPORTS_USER_MAX_ACTIVE", "report runs"),
)
def generate(ctx, params: GenerateParams) -> dict:
    """Generates a report or export file for download."""
    run = services.report_run_for_job(job=ctx.job)
    result = services.report_run_generate(run=run, progress=ctx)
    ctx.log(f"{result['rows']:,} rows, {result['size']:,} bytes, sha256 {result['sha256'][:12]}…")
    return result


@job("reports.expire", queue=Queue.SYSTEM, max_attempts=3, timeout=600, every=timedelta(hours=1))
def expire(ctx, params) -> dict:
    """Deletes report files past their retention period."""
    return {"deleted": services.report_runs_expire()}
