"""Listeners of other apps' events, connected by NotificationsConfig.ready() through
``connect()``. The notifications app publishes no signal of its own."""

import logging

from apps.jobs.models import Job
from apps.jobs.signals import job_finished
from apps.notifications import services

logger = logging.getLogger("apps.notifications")


def on_job_finished(sender, job, status: str, batch=None, **kwargs) -> None:
    """Tell a job's owner that it ended. A failure here must not touch the job's outcome:
    the job already ended (this runs after its commit), so it is logged, not raised.
    Ends recorded together (``batch``) are told together: see jobs_finished_notify."""
    if batch is not None:
        batch.gather("notifications", (job, status), _on_jobs_finished)
        return
    try:
        services.job_finished_notify(job=job, status=status)
    except Exception:
        logger.exception("notifying the end of job %s failed", job.uuid)


def _on_jobs_finished(ends: list[tuple[Job, str]]) -> None:
    try:
        services.jobs_finished_notify(ends=ends)
    except Exception:
        logger.exception("notifying the ends of %d jobs failed", len(ends))


def connect() -> None:
    job_finished.connect(on_job_finished, sender=Job, dispatch_uid="notifications.on_job_finished")
