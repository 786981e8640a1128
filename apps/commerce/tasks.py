"""Commerce job kinds: importing an uploaded CSV file, pruning uploads left behind."""

import logging
import threading
from datetime import timedelta
from typing import Literal

from django.db import connection
from pydantic import BaseModel, ConfigDict, Field

from apps.commerce import services
from apps.jobs.models import Queue
from apps.jobs.registry import job

logger = logging.getLogger("apps.commerce")
# Seconds between progress writes (the job context writes at most twice a second anyway).
PROGRESS_INTERVAL = 0.5


class ImportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: Literal["customer", "orders", "lineitem", "part"] = Field(description="The table to import into.")
    upload: str = Field(pattern=r"^imports/[0-9a-f]{32}\.csv$", description="The stored upload's name.")
    filename: str = Field(default="", max_length=255, description="The file's name on the uploader's side.")


class _JobProgress:
    """The loading service's progress, written to the job from a thread of its own.

    Why a thread: the import runs inside one transaction (and in a COPY, during which
    its connection takes no other statement). Written on that connection, progress
    would stay invisible until the commit and the job row's lock would hold up the
    heartbeat. This thread has its own connection (Django's are per thread) in
    autocommit. A cancel is still noticed by the import itself, at its next report.
    """

    def __init__(self, ctx, label: str, total: int | None) -> None:
        self.ctx = ctx
        self.total = total
        self.done = 0
        self.message = f"reading {label} rows"
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._write, name=f"progress-job-{ctx.job_id}", daemon=True)
        self._thread.start()

    def advance(self, count: int) -> None:
        self.done += count
        self._changed.set()
        self.ctx.check_cancelled()

    def stage(self, message: str) -> None:
        self.message = message
        self._changed.set()
        self.ctx.check_cancelled()

    def finish(self) -> None:
        self._stopping.set()
        self._changed.set()
        self._thread.join()

    def _write(self) -> None:
        try:
            while not self._stopping.is_set():
                self._changed.wait()
                self._changed.clear()
                self.ctx.progress(self.done, self.total, self.message)
                self._stopping.wait(PROGRESS_INTERVAL)
        except Exception:
            # A cancel (or a lost job) is raised here too; the import sees it at its next report.
            logger.debug("progress of job %s stopped", self.ctx.job_id, exc_info=True)
        finally:
            connection.close()


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


@job("commerce.import_uploads_prune", queue=Queue.LOW, max_attempts=3, timeout=600, every=timedelta(hours=6))
def import_uploads_prune(ctx, params) -> dict:
    """Deletes stored import uploads older than IMPORT_UPLOAD_RETENTION_DAYS."""
    return {"deleted": services.import_uploads_prune()}


# The commerce cache's invalidation receivers, warmer and warming schedule (issue 6).
from apps.commerce import cache_tasks  # noqa: E402, F401
