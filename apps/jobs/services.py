"""Every state change of a job goes through here.

The life of a job (DESIGN.md): enqueue -> queued (or scheduled) -> claimed by one
worker -> succeeded, or failed and retried with backoff until dead; cancel and replay
at any point. Each transition is one conditional UPDATE, so two processes racing for
the same job cannot both win.
"""

import logging
import random
import socket
from datetime import datetime, timedelta
from typing import Any

import pydantic
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.core import outbound
from apps.jobs import broker
from apps.jobs.errors import JobInputError, JobNotAllowed, JobQuotaExceeded, JobStateError
from apps.jobs.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    QUEUE_RANK,
    WAITING_STATUSES,
    Job,
    JobAttempt,
    Queue,
    Status,
)
from apps.jobs.registry import JobKind, UnknownJobKind, kind_get, kinds_all
from apps.jobs.signals import job_finished, job_started

logger = logging.getLogger("apps.jobs")

LOG_LINES_KEPT = 200
# Lost attempts (the worker died) that do not count against a job's max_attempts.
LOST_ATTEMPTS_FORGIVEN = 2
# A purge cutoff further back than this reaches before any job could exist (and past it,
# before the first day a date can hold).
MAX_PURGE_DAYS = 36_500


def worker_name() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def _params_validated(kind: JobKind, params: Any, *, staff: bool = True) -> dict:
    try:
        model = kind.params_for(staff=staff).model_validate(params or {})
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'params'}: {error['msg']}" for error in exc.errors()
        )
        raise JobInputError(f"Invalid params for {kind.name}: {problems}") from None
    return model.model_dump(mode="json")


def _publish_on_commit(job: Job) -> None:
    job_id, queue, timeout = job.pk, job.queue, job.timeout
    transaction.on_commit(lambda: broker.publish(job_id, queue=queue, timeout=timeout))


def run_at_checked(run_at: datetime | None, *, now: datetime) -> datetime | None:
    """When a job asked to run at ``run_at`` is due: None for now (no time, or one already
    past), else the time. JobInputError for a time without a timezone, or one further
    ahead than JOBS_MAX_SCHEDULE_DAYS (compared as instants, whatever the offset)."""
    if run_at is None:
        return None
    if timezone.is_naive(run_at):
        raise JobInputError("run_at needs a timezone, e.g. 2030-01-01T12:00:00Z.")
    days = settings.JOBS_MAX_SCHEDULE_DAYS
    horizon = now + timedelta(days=days)
    # Aware datetimes compare as instants without being converted: a time near year 9999
    # with a negative offset would overflow in a conversion to UTC.
    if run_at > horizon:
        raise JobInputError(
            f"run_at can be at most {days} days ahead (until {horizon:%Y-%m-%d %H:%M} UTC); "
            f"got {run_at.isoformat()}."
        )
    return run_at if run_at > now else None


def _queue_checked(kind: JobKind, queue: str | None, *, staff: bool) -> str:
    if queue is None:
        return kind.queue
    if queue not in Queue.values:
        raise JobInputError(f"Unknown queue {queue!r}; use one of {', '.join(Queue.values)}.")
    if not staff and QUEUE_RANK[queue] > QUEUE_RANK[kind.queue]:
        allowed = [name for name, rank in QUEUE_RANK.items() if rank <= QUEUE_RANK[kind.queue]]
        raise JobNotAllowed(
            f"{kind.name} runs on the {kind.queue} queue; you may choose "
            f"{' or '.join(sorted(allowed, key=QUEUE_RANK.get, reverse=True))}, "
            f"only staff a higher one (got {queue!r})."
        )
    return queue


def _quota_enforce(*, kind: JobKind, owner: AbstractBaseUser) -> None:
    """Refuse a user's submit over JOBS_USER_MAX_ACTIVE or the kind's own quota.

    Counted: the owner's waiting and running jobs of the kinds users submit (public ones),
    so that what the system queues on their behalf (e-mails, webhook deliveries) neither
    counts nor is refused. The owner's row is locked first, in a statement of its own: a
    user's submits are counted one after the other, each count (a new statement, so a new
    snapshot) seeing the job the previous submit committed, and a burst of parallel
    requests cannot all slip under the cap. Call inside a transaction.
    """
    caps = []
    if settings.JOBS_USER_MAX_ACTIVE > 0:
        caps.append(("all", settings.JOBS_USER_MAX_ACTIVE, "jobs", "JOBS_USER_MAX_ACTIVE"))
    if kind.user_quota is not None and kind.user_quota.limit > 0:
        quota = kind.user_quota
        caps.append(("kind", quota.limit, quota.noun, quota.setting))
    if not caps:
        return
    list(get_user_model()._default_manager.select_for_update().filter(pk=owner.pk).values_list("pk"))
    active = Job.objects.filter(
        owner=owner, status__in=ACTIVE_STATUSES, kind__in=[k.name for k in kinds_all() if k.public]
    ).aggregate(all=Count("id"), kind=Count("id", filter=Q(kind=kind.name)))
    for which, limit, noun, setting in caps:
        if active[which] >= limit:
            raise JobQuotaExceeded(
                f"You have {active[which]} {noun} waiting or running; the limit is {limit} at a time "
                f"({setting}). Wait for one to finish, or cancel one, then submit again.",
                limit=limit,
                active=active[which],
                retry_after=settings.JOBS_QUOTA_RETRY_AFTER,
            )


def enqueue(
    kind: str,
    *,
    params: dict | None = None,
    owner: AbstractBaseUser | None = None,
    queue: str | None = None,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    webhook_url: str = "",
    user_submitted: bool = False,
) -> Job:
    """Record a job and publish it to its queue when the transaction commits.

    A rolled-back transaction leaves no row and publishes nothing. With an
    ``idempotency_key`` already used by the same owner, the existing job is returned.
    ``run_at`` is bounded on every path (run_at_checked).

    ``user_submitted``: the owner asked for this job (API, pages, a command on their
    behalf), not the system on their behalf. Unless the owner is staff, the kind must be
    public, the queue no higher than the kind's own, the parameters within the kind's
    user bounds, and the owner under the quotas (JobNotAllowed, JobInputError,
    JobQuotaExceeded).
    """
    try:
        job_kind = kind_get(kind)
    except UnknownJobKind as exc:
        raise JobInputError(str(exc)) from None
    checked = user_submitted and not (owner is not None and owner.is_staff)
    if checked and not job_kind.public:
        raise JobNotAllowed(f"Job kind {kind!r} can only be submitted by staff.")
    chosen_queue = _queue_checked(job_kind, queue, staff=not checked)
    clean_params = _params_validated(job_kind, params, staff=not checked)
    if webhook_url:
        try:
            # Refused now, with the reason, rather than only when the delivery is attempted
            # (where it is checked again: DNS can change).
            outbound.url_target(webhook_url)
        except outbound.UrlRefused as exc:
            raise JobInputError(f"webhook_url: {exc}") from None
    now = timezone.now()
    due_at = run_at_checked(run_at, now=now)

    if idempotency_key:
        existing = Job.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing

    job = Job(
        kind=kind,
        queue=chosen_queue,
        status=Status.SCHEDULED if due_at else Status.QUEUED,
        params=clean_params,
        max_attempts=job_kind.max_attempts,
        timeout=job_kind.timeout,
        owner=owner,
        idempotency_key=idempotency_key or None,
        webhook_url=webhook_url or "",
        run_at=due_at,
        published_at=None if due_at else now,
    )
    if checked and owner is not None:
        with transaction.atomic():
            _quota_enforce(kind=job_kind, owner=owner)
            return _job_inserted(job)
    return _job_inserted(job)


def _job_inserted(job: Job) -> Job:
    """INSERT the new job (or return the one that won a race for its idempotency key)."""
    if not job.idempotency_key:
        # One INSERT; outside a transaction it commits alone (no savepoint round trips).
        job.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                job.save(force_insert=True)
        except IntegrityError:
            # Another request with the same key won the race: return its job.
            return Job.objects.get(owner=job.owner_id, idempotency_key=job.idempotency_key)
    if job.status == Status.QUEUED:
        _publish_on_commit(job)
    return job


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


def job_succeed(
    *, job: Job, attempt: int, result: Any, progress: tuple[int, int | None, str], log: list[str]
) -> bool:
    """Record success if this attempt still holds the job (with its history row)."""
    done, total, message = progress
    now = timezone.now()
    fields = {
        "status": Status.SUCCEEDED,
        "result": result,
        "finished_at": now,
        "heartbeat_at": now,
        "progress_done": total if total is not None else done,
        "progress_total": total,
        "progress_message": message,
        "log": log[-LOG_LINES_KEPT:],
        "updated_at": now,
    }
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


def retry_delay(kind: JobKind | None, attempt: int) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so delays grow."""
    base = kind.retry_backoff if kind else 10.0
    ceiling = kind.retry_backoff_max if kind else 3600.0
    delay = min(ceiling, base * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 (jitter, not security)


def _kind_or_none(name: str) -> JobKind | None:
    try:
        return kind_get(name)
    except UnknownJobKind:
        return None


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

    ``final`` (runner.PermanentJobError) moves the job to dead letters whatever attempts
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
        delay = 0.0 if lost else retry_delay(_kind_or_none(job.kind), job.attempts)
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


def job_cancel(*, job: Job, by: AbstractBaseUser | None = None) -> Job:
    """Cancel at once if waiting; a running job is asked to stop (see runner)."""
    if job.status in FINAL_STATUSES:
        raise JobStateError(f"The job already ended ({job.get_status_display().lower()}).")
    updated = Job.objects.filter(pk=job.pk, status__in=WAITING_STATUSES).update(
        status=Status.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now()
    )
    if updated:
        _send_finished(job.pk)
    else:
        Job.objects.filter(pk=job.pk, status=Status.RUNNING, cancel_requested_at__isnull=True).update(
            cancel_requested_at=timezone.now(), updated_at=timezone.now()
        )
    logger.info("job %s cancel requested by %s", job.uuid, by or "system")
    job.refresh_from_db()
    return job


@transaction.atomic
def job_retry(*, job: Job, by: AbstractBaseUser | None = None) -> Job:
    """Replay a dead or cancelled job, or run a failed one's pending retry now.

    The attempt count keeps growing (history stays in JobAttempt); the job gets a fresh
    budget of its kind's max_attempts. A replay asked for by a non-staff user is a submit
    like any other: only of public kinds, and within the quotas (JobNotAllowed,
    JobQuotaExceeded); operators (staff, commands: ``by`` None) are not limited.
    """
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status not in (Status.DEAD, Status.CANCELLED, Status.FAILED):
        raise JobStateError(f"Only dead, cancelled or failed jobs can be retried (this one is {job.status}).")
    kind = _kind_or_none(job.kind)
    if kind is None:
        raise JobStateError(f"Job kind {job.kind!r} no longer exists; it cannot run again.")
    if by is not None and not by.is_staff:
        if not kind.public:
            raise JobNotAllowed(f"Job kind {job.kind!r} can only be run again by staff.")
        # A failed job with a retry pending is still counted as waiting; a replay is new work.
        if job.status != Status.FAILED and job.owner_id is not None:
            _quota_enforce(kind=kind, owner=job.owner)
    now = timezone.now()
    budget = kind.max_attempts if job.status != Status.FAILED else job.max_attempts - job.attempts
    Job.objects.filter(pk=job.pk).update(
        status=Status.QUEUED,
        max_attempts=job.attempts + max(budget, 1),
        run_at=None,
        published_at=now,
        finished_at=None,
        cancel_requested_at=None,
        updated_at=now,
    )
    job.refresh_from_db()
    _publish_on_commit(job)
    logger.info("job %s replayed by %s", job.uuid, by or "system")
    return job


# --- Dispatcher steps (each safe to run from several dispatchers at once) ------------


def jobs_publish_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Scheduled jobs and retries whose time has come go to their queue."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(status__in=(Status.SCHEDULED, Status.FAILED), run_at__lte=now)
            .order_by("run_at")
            .values_list("pk", "queue", "timeout", "status", "uuid")[:limit]
        )
        if not due:
            return 0
        Job.objects.filter(pk__in=[row[0] for row in due]).update(
            status=Status.QUEUED, published_at=now, updated_at=now
        )
        for pk, queue, timeout, status, uuid in due:
            transaction.on_commit(lambda pk=pk, q=queue, t=timeout: broker.publish(pk, queue=q, timeout=t))
            logger.info(
                "dispatcher: published %s job %s", "retry of" if status == Status.FAILED else "due", uuid
            )
    return len(due)


def jobs_recover_stale(*, now: datetime | None = None) -> int:
    """A running job whose heartbeat stopped lost its worker: count a failed attempt."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.JOBS_HEARTBEAT_STALE_AFTER)
    recovered = 0
    for job_id, attempt, uuid, cancel_requested in Job.objects.filter(
        status=Status.RUNNING, heartbeat_at__lt=stale_before
    ).values_list("pk", "attempts", "uuid", "cancel_requested_at")[:500]:
        if cancel_requested:
            done = job_mark_cancelled(job_id=job_id, attempt=attempt)
            if done:
                logger.info("dispatcher: job %s cancelled (its worker is gone)", uuid)
        else:
            done = job_fail(
                job_id=job_id,
                attempt=attempt,
                error="Worker lost: no heartbeat for "
                f"{settings.JOBS_HEARTBEAT_STALE_AFTER}s (process killed or host down).",
                outcome=JobAttempt.Outcome.LOST,
                now=now,
            )
        recovered += bool(done)
    return recovered


def jobs_republish_lost(*, now: datetime | None = None) -> int:
    """Queued jobs the broker no longer holds (Redis restarted or flushed) are published again.

    A queue whose broker list is empty while jobs have waited longer than
    JOBS_REPUBLISH_AFTER cannot hold them; after JOBS_REPUBLISH_MAX_AGE any queued job is
    republished whatever the broker says. A duplicate delivery is harmless: the claim fails.
    """
    now = now or timezone.now()
    republished = 0
    for queue in Queue.values:
        waiting = Job.objects.filter(status=Status.QUEUED, queue=queue)
        oldest = waiting.filter(published_at__lt=now - timedelta(seconds=settings.JOBS_REPUBLISH_AFTER))
        if not oldest.exists():
            continue
        size = broker.queue_size(queue)
        if size == 0:
            lost = oldest
        else:
            lost = waiting.filter(published_at__lt=now - timedelta(seconds=settings.JOBS_REPUBLISH_MAX_AGE))
        with transaction.atomic():
            rows = list(lost.select_for_update(skip_locked=True).values_list("pk", "timeout", "uuid")[:2000])
            Job.objects.filter(pk__in=[r[0] for r in rows], status=Status.QUEUED).update(published_at=now)
        for pk, timeout, uuid in rows:
            if broker.publish(pk, queue=queue, timeout=timeout):
                logger.info("dispatcher: republished job %s lost by the broker (queue %s)", uuid, queue)
        republished += len(rows)
    return republished


def jobs_prune(*, now: datetime | None = None) -> int:
    """Delete finished jobs older than JOBS_RETENTION_DAYS (the hourly schedule)."""
    return jobs_purge(older_than_days=settings.JOBS_RETENTION_DAYS, now=now)


def jobs_enqueue_scheduled(*, now: datetime | None = None) -> int:
    """Enqueue each periodic kind once per period; the idempotency key makes it once in all."""
    now = now or timezone.now()
    created = 0
    for kind in kinds_all():
        if kind.every is None:
            continue
        slot = int(now.timestamp() // kind.every.total_seconds())
        key = f"schedule:{kind.name}:{slot}"
        if Job.objects.filter(owner=None, idempotency_key=key).exists():
            continue
        job = enqueue(kind.name, idempotency_key=key)
        if job.idempotency_key == key and job.created_at >= now - timedelta(seconds=5):
            created += 1
            logger.info("dispatcher: enqueued scheduled job %s (%s)", job.uuid, kind.name)
    return created


def jobs_purge(
    *,
    older_than_days: int,
    statuses: tuple[str, ...] = FINAL_STATUSES,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int = 1000,
) -> int:
    """Delete ended jobs (succeeded, dead, cancelled only) that finished over N days ago.

    Returns how many jobs were (or, with ``dry_run``, would be) deleted. Deletes in
    batches so that a large backlog never holds one long lock or loads every row at once.
    """
    if not 0 <= older_than_days <= MAX_PURGE_DAYS:
        raise JobInputError(f"older_than_days must be from 0 to {MAX_PURGE_DAYS:,} (got {older_than_days}).")
    unfinished = sorted(set(statuses) - set(FINAL_STATUSES))
    if unfinished:
        raise JobInputError(f"Only ended jobs can be purged, not {', '.join(unfinished)} ones.")
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    old = Job.objects.filter(status__in=statuses, finished_at__lt=cutoff)
    if dry_run:
        return old.count()
    deleted = 0
    while True:
        batch = list(old.values_list("pk", flat=True)[:batch_size])
        if not batch:
            break
        with transaction.atomic():
            _, per_model = Job.objects.filter(pk__in=batch, status__in=statuses).delete()
        deleted += per_model.get(Job._meta.label, 0)
    logger.info("purge: deleted %s jobs finished before %s", deleted, cutoff.isoformat())
    return deleted
