"""Receivers of other apps' events (connected in NotificationsConfig.ready)."""

import logging

from apps.notifications import services

logger = logging.getLogger("apps.notifications")


def on_job_finished(sender, job, status: str, **kwargs) -> None:
    """Tell a job's owner that it ended. A failure here must not touch the job's outcome:
    the job already ended (this runs after its commit), so it is logged, not raised."""
    try:
        services.job_finished_notify(job=job, status=status)
    except Exception:
        logger.exception("notifying the end of job %s failed", job.uuid)
