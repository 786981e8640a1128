"""System checks for the job queues' configuration (ids jobs.E00x)."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from apps.jobs.models import Queue


@register(Tags.compatibility)
def queues_configured(app_configs, **kwargs) -> list[Error]:
    errors = []
    conf = getattr(settings, "Q_CLUSTER", None)
    if not isinstance(conf, dict):
        return [Error("Q_CLUSTER is missing.", id="jobs.E001")]
    clusters = {conf.get("name"): conf, **conf.get("ALT_CLUSTERS", {})}
    for queue in Queue.values:
        if queue not in clusters:
            errors.append(
                Error(
                    f"Queue {queue!r} has no django-q2 cluster.",
                    hint="Add it to Q_CLUSTER['ALT_CLUSTERS'] (or as Q_CLUSTER['name']).",
                    id="jobs.E002",
                )
            )
            continue
        workers = clusters[queue].get("workers", conf.get("workers"))
        if not isinstance(workers, int) or workers < 1:
            errors.append(
                Error(f"Queue {queue!r} needs at least one worker (got {workers!r}).", id="jobs.E003")
            )
    if conf.get("save_limit", 250) >= 0:
        errors.append(
            Error(
                "django-q2 stores successful tasks (save_limit >= 0); the Job row is the record.",
                hint="Set Q_CLUSTER['save_limit'] = -1: its default caps throughput near 140 tasks/s.",
                id="jobs.E004",
            )
        )
    for name in ("JOBS_HEARTBEAT_INTERVAL", "JOBS_HEARTBEAT_STALE_AFTER"):
        if getattr(settings, name, 0) <= 0:
            errors.append(Error(f"{name} must be positive.", id="jobs.E005"))
    if settings.JOBS_HEARTBEAT_STALE_AFTER < 3 * settings.JOBS_HEARTBEAT_INTERVAL:
        errors.append(
            Error(
                "JOBS_HEARTBEAT_STALE_AFTER must be at least 3 x JOBS_HEARTBEAT_INTERVAL, "
                "or live jobs would be taken for lost.",
                id="jobs.E006",
            )
        )
    return errors
