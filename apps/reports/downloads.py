"""Serving a run's file: shared by the download page and the API."""

from django.core.files.storage import default_storage
from django.http import FileResponse

from apps.reports.models import ReportRun


def run_not_ready_text(run: ReportRun) -> str:
    state = run.state
    if state == "expired":
        return f"The file of this run expired on {run.expired_at:%Y-%m-%d %H:%M} UTC; run the report again."
    if state in ("failed", "cancelled"):
        return f"This run {state}; it has no file. Run the report again."
    return f"The file is not ready yet (the run is {state}); try again when its state is ready."


def run_file_response(run: ReportRun) -> FileResponse:
    """The file streamed from the storage in blocks, as an attachment with its name."""
    stream = default_storage.open(run.file_name, "rb")
    response = FileResponse(
        stream, as_attachment=True, filename=run.download_name, content_type=run.content_type
    )
    response["X-Checksum-SHA256"] = run.checksum
    # Private data: never kept by a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response
