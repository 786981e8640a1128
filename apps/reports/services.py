"""Writes and workflows of reports: validate a request, enqueue its run, write the file.

Pages, the reports API and the command submit through ``report_run_create``, which
validates the request; the run it records is what the job then writes, without
validating it again.

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
from typing import Any

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
from apps.jobs.errors import JobInputError, JobQuotaExceeded
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
        report(done, total, f"{done:,} rows written")

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
    report(written, written, f"{written:,} rows written")
    return _file_stats(path, written)


# --- Runs ----------------------------------------------------------------------------------


def _expiry(start: datetime) -> datetime:
    return start + timedelta(days=settings.REPORTS_RETENTION_DAYS)


@transaction.atomic
def report_run_create(
    *, owner: AbstractBaseUser | None, report: str, params: dict | None, format: str = Format.CSV
) -> ReportRun:
    """Validate a request, record its run and enqueue the job that writes the file.

    A run with an owner is the owner's submit: unless they are staff, it counts against
    REPORTS_USER_MAX_ACTIVE and JOBS_USER_MAX_ACTIVE (the jobs app's JobQuotaExceeded,
    with its retry_after, when over). ReportInputError for anything else refused.
    """
    definition, clean, format = report_request_validated(report=report, params=params, format=format)
    clean_params = clean.model_dump(mode="json")
    try:
        job = jobs_services.enqueue(
            GENERATE_JOB,
            params={"report": definition.name, "params": clean_params, "format": format},
            owner=owner,
            user_submitted=owner is not None,
        )
    except JobQuotaExceeded:
        raise
    except JobInputError as exc:
        raise ReportInputError(str(exc)) from None
    return ReportRun.objects.create(
        report=definition.name,
        params=clean_params,
        format=format,
        job=job,
        owner=owner,
        expires_at=_expiry(timezone.now()),
    )


def report_run_for_job(*, job: Job) -> ReportRun:
    """The run a generate job writes: the one report_run_create recorded with it.

    A job submitted to the jobs API (``jobs.services.enqueue``) has none yet: its request
    was validated there, by the kind's parameters (GenerateParams), and its run is recorded
    now, owned by the job's owner, from the job's clean parameters.
    """
    run = selectors.report_run_of_job(job_id=job.pk)
    if run is not None:
        return run
    run, _ = ReportRun.objects.get_or_create(
        job=job,
        defaults={
            "report": job.params["report"],
            "params": job.params.get("params") or {},
            "format": job.params.get("format") or Format.CSV,
            "owner_id": job.owner_id,
            "expires_at": _expiry(timezone.now()),
        },
    )
    return run


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
