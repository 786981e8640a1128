"""Scheduled job kinds of the monitoring app (run by the jobs dispatcher's schedules).

Each calls one service with no input and returns its figures; they all run on the system
queue, which users cannot reach.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from apps.jobs.models import Queue
from apps.jobs.registry import job
from apps.monitoring.services import alerts, explain, metrics, silk

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def _silk_prune() -> dict:
    return {"deleted": silk.silk_prune()}


@dataclass(frozen=True)
class Schedule:
    name: str
    service: Callable[[], dict]
    every: timedelta
    timeout: int
    max_attempts: int
    # The kind's description (its job function's docstring).
    description: str


SCHEDULES = [
    Schedule(
        "monitoring.rollup",
        metrics.metrics_rollup,
        every=MINUTE,
        timeout=120,
        max_attempts=1,
        description="Merges the metrics flushed to Redis into per-minute rows.",
    ),
    Schedule(
        "monitoring.fold",
        metrics.metrics_fold,
        every=HOUR,
        timeout=1800,
        max_attempts=2,
        description="Folds minute rows into hourly rows and applies metric retention.",
    ),
    Schedule(
        "monitoring.explain",
        explain.slow_queries_explain,
        every=MINUTE,
        timeout=300,
        max_attempts=1,
        description="Takes EXPLAIN plans of the slowest new slow-query samples (read-only, rolled back).",
    ),
    Schedule(
        "monitoring.alerts",
        alerts.alerts_evaluate,
        every=MINUTE,
        timeout=120,
        max_attempts=1,
        description="Evaluates the alert rules: opens and resolves alert events, notifying staff.",
    ),
    Schedule(
        "monitoring.silk_prune",
        _silk_prune,
        every=HOUR,
        timeout=1800,
        max_attempts=2,
        description="Deletes Silk's recorded requests older than MONITORING_SILK_RETENTION_HOURS.",
    ),
]


def _job_function(service: Callable[[], dict], description: str) -> Callable:
    def run(ctx, params) -> dict:
        return service()

    run.__doc__ = description
    return run


for _schedule in SCHEDULES:
    job(
        _schedule.name,
        queue=Queue.SYSTEM,
        max_attempts=_schedule.max_attempts,
        timeout=_schedule.timeout,
        every=_schedule.every,
    )(_job_function(_schedule.service, _schedule.description))
