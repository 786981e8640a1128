"""System checks for the job queues' configuration (ids jobs.E00x)."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from apps.jobs.models import Queue
from apps.jobs.registry import kinds_all

# A century: further than anyone plans a job, and far inside what a datetime can hold.
MAX_SCHEDULE_DAYS = 36_500


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
    errors += _limits_checked()
    return errors


def _limits_checked() -> list[Error]:
    errors = []
    days = getattr(settings, "JOBS_MAX_SCHEDULE_DAYS", None)
    if not isinstance(days, int) or not 1 <= days <= MAX_SCHEDULE_DAYS:
        errors.append(
            Error(
                f"JOBS_MAX_SCHEDULE_DAYS must be a whole number from 1 to {MAX_SCHEDULE_DAYS} "
                f"(got {days!r}).",
                id="jobs.E007",
            )
        )
    quotas = {"JOBS_USER_MAX_ACTIVE"} | {kind.user_quota.setting for kind in kinds_all() if kind.user_quota}
    for name in sorted(quotas):
        value = getattr(settings, name, None)
        if not isinstance(value, int) or value < 0:
            errors.append(
                Error(f"{name} must be a whole number, 0 (no quota) or more (got {value!r}).", id="jobs.E008")
            )
    retry_after = getattr(settings, "JOBS_QUOTA_RETRY_AFTER", None)
    if not isinstance(retry_after, int) or retry_after < 1:
        errors.append(
            Error(f"JOBS_QUOTA_RETRY_AFTER must be at least 1 second (got {retry_after!r}).", id="jobs.E009")
        )
    return errors
