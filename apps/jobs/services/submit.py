"""Submitting a job: checks (kind, queue, parameters, schedule, quotas), the row, the publish."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pydantic
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.core import outbound
from apps.jobs import broker
from apps.jobs.errors import JobIdempotencyConflict, JobInputError, JobNotAllowed, JobQuotaExceeded
from apps.jobs.models import ACTIVE_STATUSES, QUEUE_RANK, Job, Queue, Status
from apps.jobs.registry import JobKind, kind_get, kinds_all


def _params_validated(kind: JobKind, params: Any, *, staff: bool = True) -> dict:
    try:
        model = kind.job_params_for(staff=staff).model_validate(params or {})
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'params'}: {error['msg']}" for error in exc.errors()
        )
        raise JobInputError(f"Invalid params for {kind.name}: {problems}") from None
    return model.model_dump(mode="json")


def _publish_on_commit(*, job_id: int, queue: str, timeout: int) -> None:
    """Hand the job to its queue once the transaction that queued it commits."""
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


def enqueue(kind: str, **options: Any) -> Job:
    """Record a job and publish it to its queue when the transaction commits (the options
    and rules: job_record)."""
    job, _ = job_get_or_enqueue(kind, **options)
    return job


def job_get_or_enqueue(kind: str, **options: Any) -> tuple[Job, bool]:
    """Record a job and publish it to its queue when the transaction commits; returns it,
    and whether this call created it (the options and rules: job_record).

    A kind whose jobs each write a record of their own names the service that takes its
    submits (JobKind.submit; reports.generate records a report run): that service
    validates the request, records it and calls job_record for a job that carries the
    record's id, so that every way of asking for such a job leaves the same record.
    """
    job_kind = kind_get(kind)
    if job_kind.submit is not None:
        return job_kind.submit(**options)
    return _job_recorded(job_kind, **options)


def job_record(kind: str, **options: Any) -> tuple[Job, bool]:
    """Record a job and publish it to its queue when the transaction commits; returns it,
    and whether this call created it.

    A kind's own submit service (JobKind.submit) calls this for the job of the record it
    writes; every other submit comes here through job_get_or_enqueue.

    A rolled-back transaction leaves no row and publishes nothing. With an
    ``idempotency_key`` the same owner already used for the same kind and parameters,
    that job is returned (not created); used for a different job, JobIdempotencyConflict.
    A submit service whose job carries only its record's id says what "the same" is:
    ``same_request(earlier_job)``, whether the earlier job's record asked for the same.
    ``run_at`` is bounded on every path (run_at_checked).

    ``user_submitted``: the owner asked for this job (API, pages, a command on their
    behalf), not the system on their behalf. Unless the owner is staff, the kind must be
    public, the queue no higher than the kind's own, the parameters within the kind's
    user bounds, and the owner under the quotas (JobNotAllowed, JobInputError,
    JobQuotaExceeded).
    """
    return _job_recorded(kind_get(kind), **options)


def _job_recorded(
    job_kind: JobKind,
    *,
    params: dict | None = None,
    owner: AbstractBaseUser | None = None,
    queue: str | None = None,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    webhook_url: str = "",
    user_submitted: bool = False,
    same_request: Callable[[Job], bool] | None = None,
) -> tuple[Job, bool]:
    """job_record, for a kind already looked up."""
    kind = job_kind.name
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

    def same(job: Job) -> bool:
        return same_request(job) if same_request is not None else job.params == clean_params

    if idempotency_key:
        existing = Job.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_request(existing, kind=kind, same=same), False

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
            job, created = _job_inserted(job)
    else:
        job, created = _job_inserted(job)
    return (job, True) if created else (_same_request(job, kind=kind, same=same), False)


def _same_request(job: Job, *, kind: str, same: Callable[[Job], bool]) -> Job:
    """``job``, found by its idempotency key, if it is what this submit asks for."""
    if job.kind != kind or not same(job):
        raise JobIdempotencyConflict(
            f"Idempotency key {job.idempotency_key!r} was already used for a different job "
            f"({job.kind} {job.uuid})."
        )
    return job


def _job_inserted(job: Job) -> tuple[Job, bool]:
    """INSERT the new job: (it, True); or (the job that won a race for its idempotency key, False)."""
    if not job.idempotency_key:
        # One INSERT; outside a transaction it commits alone (no savepoint round trips).
        job.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                job.save(force_insert=True)
        except IntegrityError:
            # Another request with the same key won the race: its job is the one.
            return Job.objects.get(owner=job.owner_id, idempotency_key=job.idempotency_key), False
    if job.status == Status.QUEUED:
        _publish_on_commit(job_id=job.pk, queue=job.queue, timeout=job.timeout)
    return job, True
