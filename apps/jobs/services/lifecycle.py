"""A job's run, as its worker records it: claim, heartbeat, and how the attempt ended.

Each write is fenced by the attempt number (``_owned``): an attempt that lost the job
(recovered and re-run elsewhere) can no longer change it.
"""

import logging
import os
import random
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.jobs.models import FINAL_STATUSES, Job, JobAttempt, Status
from apps.jobs.registry import JobKind, kind_find
from apps.jobs.signals import EndedTogether, job_finished, job_started

logger = logging.getLogger("apps.jobs")

LOG_LINES_KEPT = 200
# Lost attempts (the worker died) that do not count against a job's max_attempts.
LOST_ATTEMPTS_FORGIVEN = 2


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_claim(*, job_id: int, worker: str) -> Job | None:
    """Take a queued job for this worker: one conditional UPDATE. None if someone else has it.

    UPDATE … RETURNING claims and reads the row in a single round trip and commit, the
    hottest path of every job. The attempt's history row is written when it ends.
    """
    now = timezone.now()
    ops = connection.ops
    columns = ", ".join(ops.quote_name(field.column) for field in Job._meta.concrete_fields)
    # Only quoted identifiers from the model are formatted in; values are parameters.
    sql = (
        f"UPDATE {ops.quote_name(Job._meta.db_table)} SET status = %s, attempts = attempts + 1, "  # noqa: S608
        "started_at = %s, heartbeat_at = %s, updated_at = %s, worker = %s, "
        "cancel_requested_at = NULL, error = '', traceback = '' "
        f"WHERE id = %s AND status = %s RETURNING {columns}"
    )
    stamp = ops.adapt_datetimefield_value(now)
    params = [Status.RUNNING, stamp, stamp, stamp, worker, job_id, Status.QUEUED]
    job = next(iter(Job.objects.raw(sql, params)), None)
    if job is None:
        return None
    job_started.send(sender=Job, job=job)
    return job


def _owned(job_id: int, attempt: int):
    """The running job as long as this attempt still holds it (fencing against a re-run)."""
    return Job.objects.filter(pk=job_id, status=Status.RUNNING, attempts=attempt)


def job_heartbeat(
    *,
    job_id: int,
    attempt: int,
    progress: tuple[int, int | None, str] | None = None,
    log: list[str] | None = None,
) -> tuple[bool, bool]:
    """Keep heartbeat_at fresh (and store progress). Returns (still owned, cancel requested)."""
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if progress is not None:
        fields["progress_done"], fields["progress_total"], fields["progress_message"] = progress
    if log is not None:
        fields["log"] = log[-LOG_LINES_KEPT:]
    if not _owned(job_id, attempt).update(**fields):
        return False, False
    cancel = _owned(job_id, attempt).filter(cancel_requested_at__isnull=False).exists()
    return True, cancel


def _finish(job: Job, attempt: int, outcome: str, error: str = "", retry_delay=None) -> None:
    """Record the history row of an attempt that ended (``job`` as it was while running)."""
    JobAttempt.objects.create(
        job=job,
        number=attempt,
        worker=job.worker,
        started_at=job.started_at or timezone.now(),
        finished_at=timezone.now(),
        outcome=outcome,
        error=error[:10000],
        retry_delay=retry_delay,
    )


def _send_finished(job_id: int, *, final: Job | None = None) -> None:
    """Send job_finished after commit with the job as it ended: ``final`` when the caller
    holds that state already (saves a query on every success), else read back."""
    if not job_finished.has_listeners(Job):
        return

    def send() -> None:
        job = final if final is not None else Job.objects.filter(pk=job_id).order_by().first()
        if job is not None:
            job_finished.send(sender=Job, job=job, status=job.status)

    transaction.on_commit(send)


def _success_fields(
    result: Any, progress: tuple[int, int | None, str], log: list[str], finished_at: datetime
) -> dict[str, Any]:
    done, total, message = progress
    return {
        "status": Status.SUCCEEDED,
        "result": result,
        "finished_at": finished_at,
        "heartbeat_at": finished_at,
        "progress_done": total if total is not None else done,
        "progress_total": total,
        "progress_message": message,
        "log": log[-LOG_LINES_KEPT:],
        "updated_at": finished_at,
    }


def job_succeed(
    *, job: Job, attempt: int, result: Any, progress: tuple[int, int | None, str], log: list[str]
) -> bool:
    """Record success if this attempt still holds the job (with its history row)."""
    fields = _success_fields(result, progress, log, timezone.now())
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        updated = _succeed_in_one_statement(job, attempt, fields)
    else:
        with transaction.atomic():
            updated = _owned(job.pk, attempt).update(**fields)
            if updated:
                _finish(job, attempt, JobAttempt.Outcome.SUCCEEDED)
    if updated:
        for name, value in fields.items():
            setattr(job, name, value)
        _send_finished(job.pk, final=job)
    return bool(updated)


def _succeed_in_one_statement(job: Job, attempt: int, fields: dict[str, Any]) -> int:
    """PostgreSQL: the fenced UPDATE and the attempt's history row in one statement and commit.

    Every job ends here, so one round trip instead of four (BEGIN, UPDATE, INSERT, COMMIT)
    is worth the SQL; the ORM path in job_succeed does the same elsewhere.
    """
    ops = connection.ops
    job_table = ops.quote_name(Job._meta.db_table)
    attempt_table = ops.quote_name(JobAttempt._meta.db_table)
    assignments = ", ".join(f"{ops.quote_name(Job._meta.get_field(name).column)} = %s" for name in fields)
    values = [Job._meta.get_field(name).get_db_prep_save(value, connection) for name, value in fields.items()]
    sql = (
        f"WITH done AS (UPDATE {job_table} SET {assignments} "  # noqa: S608 (quoted identifiers only)
        "WHERE id = %s AND status = %s AND attempts = %s RETURNING id, worker, started_at) "
        f"INSERT INTO {attempt_table} (job_id, number, worker, started_at, finished_at, outcome, error) "
        "SELECT id, %s, worker, started_at, %s, %s, '' FROM done"
    )
    params = [
        *values,
        job.pk,
        Status.RUNNING,
        attempt,
        attempt,
        fields["finished_at"],
        JobAttempt.Outcome.SUCCEEDED,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@dataclass(slots=True)
class Success:
    """A succeeded attempt the worker has not recorded yet (the runner writes several at once)."""

    job: Job
    attempt: int
    result: Any
    progress: tuple[int, int | None, str]
    log: list[str]
    finished_at: datetime


# The columns one success writes, as typed in the VALUES list of jobs_succeed.
_SUCCESS_COLUMNS = (
    ("result", "jsonb"),
    ("finished_at", "timestamptz"),
    ("progress_done", "bigint"),
    ("progress_total", "bigint"),
    ("progress_message", "text"),
    ("log", "jsonb"),
)


def jobs_succeed(*, successes: list[Success]) -> list[Job]:
    """Record several successes; returns the jobs whose attempt still held them.

    On PostgreSQL one statement fences and updates every job and writes every history
    row, so a worker's jobs that ended within a few milliseconds cost one round trip and
    one commit in all. job_finished is then sent for each job with ``batch`` (an
    EndedTogether), with which receivers do their work once for the whole batch.
    Elsewhere (or inside a transaction) each success is recorded as job_succeed does.
    """
    if not successes:
        return []
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return [
            s.job
            for s in successes
            if job_succeed(job=s.job, attempt=s.attempt, result=s.result, progress=s.progress, log=s.log)
        ]
    now = timezone.now()
    rows = [(s, _success_fields(s.result, s.progress, s.log, s.finished_at)) for s in successes]
    ended = _succeed_many_in_one_statement(rows, now)
    jobs = []
    for success, fields in rows:
        if success.job.pk not in ended:
            continue
        for name, value in {**fields, "updated_at": now}.items():
            setattr(success.job, name, value)
        jobs.append(success.job)
    if jobs and job_finished.has_listeners(Job):
        batch = EndedTogether()
        for job in jobs:
            for receiver, error in job_finished.send_robust(
                sender=Job, job=job, status=job.status, batch=batch
            ):
                if error is not None:
                    logger.error("job_finished receiver %r failed for job %s: %r", receiver, job.uuid, error)
        batch.run()
    return jobs


def _succeed_many_in_one_statement(rows: list[tuple[Success, dict[str, Any]]], now: datetime) -> set[int]:
    """PostgreSQL: the fenced UPDATE of every job from a VALUES list and their history rows.

    ``updated_at`` is the time of this write (``finished_at`` that of the job's end), so a
    reader can tell when an end became visible.
    """
    ops = connection.ops
    job_table = ops.quote_name(Job._meta.db_table)
    attempt_table = ops.quote_name(JobAttempt._meta.db_table)
    names = [name for name, _ in _SUCCESS_COLUMNS]
    row_sql = "(%s::bigint, %s::bigint, " + ", ".join(f"%s::{kind}" for _, kind in _SUCCESS_COLUMNS) + ")"
    params: list[Any] = []
    for success, fields in rows:
        params += [success.job.pk, success.attempt]
        params += [Job._meta.get_field(name).get_db_prep_save(fields[name], connection) for name in names]
    column = {name: ops.quote_name(Job._meta.get_field(name).column) for name in (*names, "heartbeat_at")}
    assignments = ", ".join(f"{column[name]} = v.{column[name]}" for name in names)
    sql = (
        f"WITH v (id, attempt, {', '.join(column[name] for name in names)}) AS "  # noqa: S608 (quoted identifiers only)
        f"(VALUES {', '.join([row_sql] * len(rows))}), "
        f"done AS (UPDATE {job_table} AS j SET status = %s, {assignments}, "
        f"{column['heartbeat_at']} = v.{column['finished_at']}, updated_at = %s FROM v "
        "WHERE j.id = v.id AND j.status = %s AND j.attempts = v.attempt "
        f"RETURNING j.id, j.worker, j.started_at, v.attempt, v.{column['finished_at']} AS finished_at) "
        f"INSERT INTO {attempt_table} (job_id, number, worker, started_at, finished_at, outcome, error) "
        "SELECT id, attempt, worker, started_at, finished_at, %s, '' FROM done RETURNING job_id"
    )
    params += [Status.SUCCEEDED, now, Status.RUNNING, JobAttempt.Outcome.SUCCEEDED]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def retry_delay(kind: JobKind | None, attempt: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so delays grow."""
    base = kind.retry_backoff if kind else 10.0
    ceiling = kind.retry_backoff_max if kind else 3600.0
    delay = min(ceiling, base * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 (jitter, not security)


@transaction.atomic
def job_fail(
    *,
    job_id: int,
    attempt: int,
    error: str,
    traceback: str = "",
    outcome: str = JobAttempt.Outcome.FAILED,
    log: list[str] | None = None,
    progress: tuple[int, int | None, str] | None = None,
    final: bool = False,
    now: datetime | None = None,
) -> str | None:
    """Record a failed attempt: schedule a retry with backoff, or move to dead letters.

    ``final`` (PermanentJobError) moves the job to dead letters whatever attempts
    remain. Returns the new status, or None when this attempt no longer held the job.
    """
    job = _owned(job_id, attempt).select_for_update().first()
    if job is None:
        return None
    now = now or timezone.now()
    fields: dict[str, Any] = {"error": error[:10000], "traceback": traceback[:50000], "updated_at": now}
    if log is not None:
        fields["log"] = log[-LOG_LINES_KEPT:]
    if progress is not None:
        fields["progress_done"], fields["progress_total"], fields["progress_message"] = progress
    if outcome == JobAttempt.Outcome.LOST and (
        JobAttempt.objects.filter(job=job, outcome=JobAttempt.Outcome.LOST).count() < LOST_ATTEMPTS_FORGIVEN
    ):
        # A killed worker (deploy, OOM kill) is not the job's fault: the attempt is given
        # back, so even a one-attempt job runs again. A job that keeps taking its worker
        # down still ends dead.
        job.max_attempts += 1
        fields["max_attempts"] = job.max_attempts
    delay = None
    if job.attempts < job.max_attempts and not final:
        # A lost worker or connection is not the job's fault: run again now, not after backoff.
        lost = outcome == JobAttempt.Outcome.LOST
        delay = 0.0 if lost else retry_delay(kind_find(job.kind), job.attempts)
        fields.update(status=Status.FAILED, run_at=now + timedelta(seconds=delay))
    else:
        fields.update(status=Status.DEAD, finished_at=now)
    Job.objects.filter(pk=job.pk).update(**fields)
    _finish(job, attempt, outcome, error, retry_delay=delay)
    logger.info(
        "job %s %s attempt %s/%s %s: %s%s",
        job.uuid,
        job.kind,
        job.attempts,
        job.max_attempts,
        outcome,
        error.splitlines()[0] if error else "",
        f"; retry in {delay:.1f}s" if delay is not None else "; dead",
    )
    if fields["status"] == Status.DEAD:
        _send_finished(job.pk)
    return fields["status"]


@transaction.atomic
def job_mark_cancelled(*, job_id: int, attempt: int | None = None, log: list[str] | None = None) -> bool:
    """End a job as cancelled: from any waiting state, or a running attempt that stopped."""
    now = timezone.now()
    qs = Job.objects.filter(pk=job_id)
    qs = _owned(job_id, attempt) if attempt is not None else qs.exclude(status__in=FINAL_STATUSES)
    fields: dict[str, Any] = {"status": Status.CANCELLED, "finished_at": now, "updated_at": now}
    if log is not None:
        fields["log"] = log[-LOG_LINES_KEPT:]
    job = qs.select_for_update().first()
    if job is None or not Job.objects.filter(pk=job.pk, status=job.status).update(**fields):
        return False
    if job.status == Status.RUNNING:
        _finish(job, job.attempts, JobAttempt.Outcome.CANCELLED, "cancelled")
    _send_finished(job_id)
    return True
