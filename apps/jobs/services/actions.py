"""What users and operators do to jobs: cancel, run again, purge the ended ones."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.jobs.errors import JobInputError, JobNotAllowed, JobStateError
from apps.jobs.models import FINAL_STATUSES, WAITING_STATUSES, Job, Status
from apps.jobs.registry import kind_find
from apps.jobs.services.lifecycle import _send_finished
from apps.jobs.services.submit import _publish_on_commit, _quota_enforce

logger = logging.getLogger("apps.jobs")

# A purge cutoff further back than this reaches before any job could exist (and past it,
# before the first day a date can hold).
MAX_PURGE_DAYS = 36_500


@transaction.atomic
def job_cancel(*, job: Job, by: AbstractBaseUser | None = None) -> Job:
    """Cancel at once if waiting; a running job is asked to stop (see runner).

    One transaction: job_finished is sent once it commits.
    """
    if job.status in FINAL_STATUSES:
        raise JobStateError(f"The job already ended ({job.get_status_display().lower()}).")
    now = timezone.now()
    updated = Job.objects.filter(pk=job.pk, status__in=WAITING_STATUSES).update(
        status=Status.CANCELLED, finished_at=now, updated_at=now
    )
    if updated:
        _send_finished(job.pk)
    else:
        Job.objects.filter(pk=job.pk, status=Status.RUNNING, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now, updated_at=now
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
    kind = kind_find(job.kind)
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
    _publish_on_commit(job_id=job.pk, queue=job.queue, timeout=job.timeout)
    logger.info("job %s replayed by %s", job.uuid, by or "system")
    return job


def jobs_prune(*, now: datetime | None = None) -> int:
    """Delete finished jobs older than JOBS_RETENTION_DAYS (the hourly schedule)."""
    return jobs_purge(older_than_days=settings.JOBS_RETENTION_DAYS, now=now)


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
