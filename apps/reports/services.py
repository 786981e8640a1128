"""Writes and workflows of reports: validate a request, enqueue its run, write the file.

Pages, the reports API and the command submit through ``report_run_create``, a generate
job asked for through the jobs app through ``report_run_submit``: both validate the
request once and record it as a run, the one record of it; the run's job carries only
the run's id, and the job writes that run without validating it again.

A run's file is written in constant memory (rows stream from a server-side cursor into
a temporary file, which the storage then copies in chunks) and recorded with its row
count, size and SHA-256 checksum. Files expire after REPORTS_RETENTION_DAYS.
"""

import csv
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pydantic
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from apps.core.progress import Progress
from apps.jobs import services as jobs_services
from apps.jobs.errors import JobInputError
from apps.jobs.models import Job
from apps.reports import selectors
from apps.reports.catalog import ReportDefinition, UnknownReport, report_definition
from apps.reports.models import Format, ReportRun

logger = logging.getLogger("apps.reports")

GENERATE_JOB = "reports.generate"

# Spreadsheet programs run a cell that starts with one of these as a formula
# (OWASP "CSV injection"; tab and carriage return are on its list too).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ReportInputError(JobInputError):
    """A report request that cannot be accepted; the message is one line for a person.

    A run is asked for by submitting its job, so this is the JobInputError of that
    submit. ``problems`` holds each invalid parameter's (name, message), the name "" for
    a problem of the whole set, so that a form can show each one next to its field.
    """

    def __init__(self, message: str, *, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


# The request of a generate job submitted through the jobs app (POST /api/jobs): its kind
# shows this model as its parameters, and report_run_submit checks a submit's shape with it
# before report_request_validated checks its content. The job itself carries only the
# id of the run that records the request.
class GenerateParams(pydantic.BaseModel):
    """What to generate: a report from the catalog, its parameters and the file format."""

    model_config = pydantic.ConfigDict(extra="forbid")
    report: str = pydantic.Field(description="Name of a report in the catalog (GET /api/reports/catalog).")
    params: dict = pydantic.Field(default_factory=dict, description="The report's parameters.")
    format: Literal["csv", "xlsx"] = "csv"


@dataclass(frozen=True)
class FileStats:
    rows: int
    size: int
    checksum: str


# --- Validation ----------------------------------------------------------------------------


def _problems(exc: pydantic.ValidationError) -> tuple[tuple[str, str], ...]:
    return tuple(
        (".".join(str(part) for part in error["loc"]), error["msg"].removeprefix("Value error, "))
        for error in exc.errors()
    )


def report_params_validated(*, definition: ReportDefinition, params: dict | None) -> pydantic.BaseModel:
    """The report's parameters with defaults filled in, or ReportInputError naming the problems."""
    try:
        return definition.params.model_validate(params or {})
    except pydantic.ValidationError as exc:
        problems = _problems(exc)
        text = "; ".join(f"{where}: {message}" if where else message for where, message in problems)
        message = f"Invalid parameters for {definition.name}: {text}."
        raise ReportInputError(message, problems=problems) from None


def report_request_validated(
    *, report: str, params: dict | None, format: str
) -> tuple[ReportDefinition, pydantic.BaseModel, str]:
    """(definition, parameters, format) of a request, or ReportInputError saying what is wrong."""
    try:
        definition = report_definition(report)
    except UnknownReport as exc:
        raise ReportInputError(str(exc)) from None
    if format not in definition.formats:
        raise ReportInputError(
            f"{definition.name} is available as {', '.join(definition.formats)} (got {format!r})."
        )
    return definition, report_params_validated(definition=definition, params=params), format


# --- Writing files -------------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    """One CSV cell, safe to open in a spreadsheet program.

    Text that starts with ``= + - @`` (or a tab or carriage return) gets a leading
    apostrophe, so that the program shows it instead of running it as a formula. Only
    text is changed: numbers and dates come from typed database columns and are written
    as they are, so a negative amount (``-312.55``, an account balance) stays a number
    that the program can compute with, and a number cannot carry a formula.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    return value


def _write_csv(path: Path, header: list[str], rows: Iterable[tuple], counted: Callable[[int], None]) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([csv_cell(name) for name in header])
        batch: list[list] = []
        for row in rows:
            batch.append([csv_cell(value) for value in row])
            if len(batch) == 1000:
                writer.writerows(batch)
                written += len(batch)
                batch = []
                counted(written)
        writer.writerows(batch)
        written += len(batch)
    return written


def _xlsx_cell(sheet, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    # openpyxl would store text starting with "=" as a formula: keep all text as text.
    cell.data_type = "s"
    return cell


def _write_xlsx(
    path: Path, title: str, header: list[str], rows: Iterable[tuple], counted: Callable[[int], None]
) -> int:
    """Write-only mode streams rows to a temporary file; text is stored inline (no shared
    string table), so memory does not grow with the rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([_xlsx_cell(sheet, name) for name in header])
    written = 0
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
        written += 1
        if written % 1000 == 0:
            counted(written)
    workbook.save(path)
    return written


def _file_stats(path: Path, rows: int) -> FileStats:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return FileStats(rows=rows, size=path.stat().st_size, checksum=digest.hexdigest())


def report_file_write(
    *,
    definition: ReportDefinition,
    params: pydantic.BaseModel,
    format: str,
    path: Path,
    progress: Progress | None = None,
    chunk_size: int | None = None,
) -> FileStats:
    """Run the report and write it to ``path`` as CSV or XLSX, streaming; its stats.

    1. Build the query; exports count their rows first, so that progress has a total.
    2. Stream the rows from the database in chunks into the file.
    3. Read the file back once for its SHA-256 checksum.
    """

    def report(done: int, total: int | None, message: str) -> None:
        if progress is not None:
            progress.progress(done, total, message)

    query = definition.build(params)
    total = selectors.report_row_count(query=query) if definition.streamed else None
    report(0, total, "Running the query")

    def counted(done: int) -> None:
        report(done, total, f"{done:,} row{'s' * (done != 1)} written")

    rows = selectors.report_rows(
        definition=definition, query=query, chunk_size=chunk_size or settings.REPORTS_CHUNK_ROWS
    )
    try:
        if format == Format.XLSX:
            written = _write_xlsx(path, definition.title, definition.header, rows, counted)
        else:
            written = _write_csv(path, definition.header, rows, counted)
    finally:
        # Ends the server-side cursor also when writing failed or the job was cancelled.
        rows.close()
    report(written, written, f"{written:,} row{'s' * (written != 1)} written")
    return _file_stats(path, written)


# --- Runs ----------------------------------------------------------------------------------


def _expiry(start: datetime) -> datetime:
    return start + timedelta(days=settings.REPORTS_RETENTION_DAYS)


def _run_new(
    *, definition: ReportDefinition, params: pydantic.BaseModel, format: str, owner: AbstractBaseUser | None
) -> ReportRun:
    """The record of a validated request, before any file is written."""
    return ReportRun.objects.create(
        report=definition.name,
        params=params.model_dump(mode="json"),
        format=format,
        owner=owner,
        expires_at=_expiry(timezone.now()),
    )


def report_run_create(
    *, owner: AbstractBaseUser | None, report: str, params: dict | None, format: str = Format.CSV
) -> ReportRun:
    """Validate a request, record its run and enqueue the job that writes the file.

    A run with an owner is the owner's submit: unless they are staff, it counts against
    REPORTS_USER_MAX_ACTIVE and JOBS_USER_MAX_ACTIVE (the jobs app's JobQuotaExceeded,
    with its retry_after, when over). ReportInputError for a request that is not valid.
    """
    definition, clean, format = report_request_validated(report=report, params=params, format=format)
    run, _ = _report_run_recorded(
        definition=definition, params=clean, format=format, owner=owner, user_submitted=owner is not None
    )
    return run


def report_run_request(
    *, owner: AbstractBaseUser | None, report: str, params: dict | None, format: str = Format.CSV
) -> ReportRun:
    """A run asked for by a page or the reports API: queued as a job (report_run_create), or,
    with REPORTS_INLINE, written within the request (report_run_inline).

    Whether a caller got a finished run is ``run.is_ready``; errors are theirs.
    """
    create = report_run_inline if settings.REPORTS_INLINE else report_run_create
    return create(owner=owner, report=report, params=params, format=format)


def report_run_inline(
    *, owner: AbstractBaseUser | None, report: str, params: dict | None, format: str = Format.CSV
) -> ReportRun:
    """Validate a request and write its file now, in the calling process: a run without a job.

    How reports ran before they were jobs (as ``manage.py run_report`` still runs them):
    the load test's "before" mode measures that system with REPORTS_INLINE on. The caller
    waits for the whole query and file; no job quota applies (the request itself is the
    limit). A run whose writing fails stays without a file (state "failed") and the error
    propagates.
    """
    definition, clean, format = report_request_validated(report=report, params=params, format=format)
    run = _run_new(definition=definition, params=clean, format=format, owner=owner)
    report_run_generate(run=run)
    return run


def report_run_submit(
    *, params: dict | None = None, owner: AbstractBaseUser | None = None, **job_options: Any
) -> tuple[Job, bool]:
    """A generate job submitted through the jobs app (POST /api/jobs, jobs.services.enqueue;
    the kind's submit service): its request (``params``: report, params, format) is
    validated and recorded as a run, as report_run_create does. Returns the run's job and
    whether this call created it (an idempotent repeat returns the first submit's job).

    ``job_options``: the rest of the submit (queue, run_at, idempotency_key, webhook_url,
    user_submitted), which jobs.services.job_record checks. ReportInputError for a request
    that is not valid; the jobs app's errors for a submit it refuses.
    """
    try:
        request = GenerateParams.model_validate(params or {})
    except pydantic.ValidationError as exc:
        text = "; ".join(f"{where or 'params'}: {message}" for where, message in _problems(exc))
        raise ReportInputError(f"Invalid params for {GENERATE_JOB}: {text}") from None
    definition, clean, format = report_request_validated(
        report=request.report, params=request.params, format=request.format
    )
    run, created = _report_run_recorded(
        definition=definition, params=clean, format=format, owner=owner, **job_options
    )
    return run.job, created


@transaction.atomic
def _report_run_recorded(
    *,
    definition: ReportDefinition,
    params: pydantic.BaseModel,
    format: str,
    owner: AbstractBaseUser | None,
    **job_options: Any,
) -> tuple[ReportRun, bool]:
    """Record a validated request as a run, with the job that writes it; (run, created).

    1. Record the run: the one record of the request (report, parameters, format).
    2. Record its job, which carries only the run's id, through the jobs app's checks
       (quotas, queue, schedule, idempotency key). An idempotency key used before returns
       that submit's job if its run recorded the same request (JobIdempotencyConflict if
       not); the run of step 1 is then dropped, and the earlier one returned.
    3. Link the run to its job.
    """
    run = _run_new(definition=definition, params=params, format=format, owner=owner)

    def same_request(earlier: Job) -> bool:
        earlier_run = selectors.report_run_of_job(job_id=earlier.pk)
        return earlier_run is not None and earlier_run.request == run.request

    job, created = jobs_services.job_record(
        GENERATE_JOB, params={"run_id": run.pk}, owner=owner, same_request=same_request, **job_options
    )
    if not created:
        run.delete()
        earlier = selectors.report_run_of_job(job_id=job.pk)
        earlier.job = job
        return earlier, False
    run.job = job
    run.save(update_fields=["job"])
    return run, True


def report_run_generate(*, run: ReportRun, progress: Progress | None = None) -> dict:
    """Write the run's file into the default storage and record it; returns its stats.

    The run holds its request as validated when it was created: its parameters are read
    back into the report's parameter model (dates from text), which they already passed.
    The file is written to a temporary file first and then handed to the storage, which
    copies it in chunks: nothing holds the whole file in memory. A second attempt (after
    a lost worker) replaces the first attempt's file.
    """
    definition = report_definition(run.report)
    params = definition.params.model_validate(run.params)
    format = run.format
    handle, temporary = tempfile.mkstemp(prefix=f"report-{run.uuid}-", suffix=f".{format}")
    os.close(handle)
    path = Path(temporary)
    try:
        stats = report_file_write(
            definition=definition, params=params, format=format, path=path, progress=progress
        )
        now = timezone.now()
        run.generated_at = now
        name = f"{settings.REPORTS_STORAGE_PREFIX}/{run.uuid}/{run.download_name}"
        with path.open("rb") as stream:
            stored = default_storage.save(name, File(stream, name=run.download_name))
    finally:
        path.unlink(missing_ok=True)
    previous = run.file_name
    run.file_name = stored
    run.rows, run.size, run.checksum = stats.rows, stats.size, stats.checksum
    run.expires_at = _expiry(now)
    run.expired_at = None
    run.save(
        update_fields=["file_name", "rows", "size", "checksum", "generated_at", "expires_at", "expired_at"]
    )
    if previous and previous != stored:
        default_storage.delete(previous)
    logger.info("report %s %s: %s rows, %s bytes", run.report, run.uuid, stats.rows, stats.size)
    return {
        "run": str(run.uuid),
        "report": run.report,
        "format": format,
        "rows": stats.rows,
        "size": stats.size,
        "sha256": stats.checksum,
    }


def report_runs_expire(*, now: datetime | None = None) -> int:
    """Delete the files of runs past their expiry; the runs stay, marked expired."""
    now = now or timezone.now()
    deleted = 0
    for run in selectors.report_runs_expired(now=now).only("id", "file_name")[:10000]:
        default_storage.delete(run.file_name)
        # Conditional: a run regenerated meanwhile keeps its new file.
        deleted += ReportRun.objects.filter(pk=run.pk, file_name=run.file_name).update(
            file_name="", expired_at=now
        )
    return deleted
