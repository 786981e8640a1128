"""The dispatcher's steps (``manage.py jobs_dispatcher``), each safe to run from several
dispatchers at once: publish what is due, recover jobs whose worker died, republish what
the broker lost, enqueue the periodic kinds."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.jobs import broker
from apps.jobs.models import Job, JobAttempt, Queue, Status
from apps.jobs.registry import kinds_all
from apps.jobs.services.lifecycle import job_fail, job_mark_cancelled
from apps.jobs.services.submit import _publish_on_commit, job_get_or_enqueue

logger = logging.getLogger("apps.jobs")


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
            _publish_on_commit(job_id=pk, queue=queue, timeout=timeout)
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


def jobs_enqueue_scheduled(*, now: datetime | None = None) -> int:
    """Enqueue each periodic kind once per period; the idempotency key makes it once in all."""
    now = now or timezone.now()
    enqueued = 0
    for kind in kinds_all():
        if kind.every is None:
            continue
        slot = int(now.timestamp() // kind.every.total_seconds())
        key = f"schedule:{kind.name}:{slot}"
        if Job.objects.filter(owner=None, idempotency_key=key).exists():
            continue
        job, created = job_get_or_enqueue(kind.name, idempotency_key=key)
        if created:
            enqueued += 1
            logger.info("dispatcher: enqueued scheduled job %s (%s)", job.uuid, kind.name)
    return enqueued
