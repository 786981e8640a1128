"""Commerce job kinds: importing an uploaded CSV file, pruning uploads left behind."""

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from apps.commerce import services
from apps.jobs.models import Queue
from apps.jobs.registry import job


class ImportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: Literal["customer", "orders", "lineitem", "part"] = Field(description="The table to import into.")
    upload: str = Field(pattern=r"^imports/[0-9a-f]{32}\.csv$", description="The stored upload's name.")
    filename: str = Field(default="", max_length=255, description="The file's name on the uploader's side.")


class _JobProgress:
    """The loading service's progress reports, told to the job's context.

    The import runs inside one transaction (and a COPY); the context then leaves the
    writing to the job's heartbeat thread, on a connection of its own."""

    def __init__(self, ctx, label: str, total: int | None) -> None:
        self.ctx = ctx
        self.total = total
        self.done = 0
        self.message = f"reading {label} rows"

    def advance(self, count: int) -> None:
        self.done += count
        self.ctx.progress(self.done, self.total, self.message)

    def stage(self, message: str) -> None:
        self.message = message
        self.ctx.progress(self.done, self.total, self.message)

    def finish(self) -> None:
        """Nothing to stop: the context writes what is left."""


# Staff only (public=False): an import writes data everybody sees.
@job("commerce.import_csv", queue=Queue.LOW, max_attempts=2, timeout=3600, params=ImportParams)
def import_csv(ctx, params: ImportParams) -> dict:
    """Checks every row of an uploaded CSV file and imports it into its table, or nothing."""
    ctx.log(f"importing {params.filename or params.upload} into {params.table}")
    outcome = services.import_upload_import(
        table=params.table,
        upload=params.upload,
        filename=params.filename,
        progress_factory=lambda label, total: _JobProgress(ctx, label, total),
    )
    ctx.log(outcome.message)
    ctx.progress(outcome.rows, None, "imported" if outcome.imported else "rejected: nothing imported")
    return outcome.as_result()


@job(
    "commerce.import_uploads_prune", queue=Queue.SYSTEM, max_attempts=3, timeout=600, every=timedelta(hours=6)
)
def import_uploads_prune(ctx, params) -> dict:
    """Deletes stored import uploads older than IMPORT_UPLOAD_RETENTION_DAYS."""
    return {"deleted": services.import_uploads_prune()}


# The commerce cache's invalidation receivers, warmer and warming schedule (issue 6).
from apps.commerce import cache_tasks  # noqa: E402, F401
