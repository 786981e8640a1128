"""Every state change of a job goes through here.

The life of a job (DESIGN.md): enqueue -> queued (or scheduled) -> claimed by one
worker -> succeeded, or failed and retried with backoff until dead; cancel and replay
at any point. Each transition is one conditional UPDATE, so two processes racing for
the same job cannot both win.

- ``submit``: enqueue, with its checks (kind, queue, parameters, schedule, quotas);
- ``lifecycle``: what a worker records: claim, heartbeat, success (one or several at
  once), failure, cancelled;
- ``actions``: what users and operators do: cancel, retry or replay, purge;
- ``recovery``: the dispatcher's steps (due jobs, dead workers, lost messages, schedules).

Callers use this package (``services.enqueue(...)``), not its modules; the errors they
catch are in apps.jobs.errors.
"""

from apps.jobs.services.actions import job_cancel, job_retry, jobs_prune, jobs_purge
from apps.jobs.services.lifecycle import (
    LOG_LINES_KEPT,
    LOST_ATTEMPTS_FORGIVEN,
    Success,
    job_claim,
    job_fail,
    job_heartbeat,
    job_mark_cancelled,
    job_succeed,
    jobs_succeed,
    worker_name,
)
from apps.jobs.services.recovery import (
    jobs_enqueue_scheduled,
    jobs_publish_due,
    jobs_recover_stale,
    jobs_republish_lost,
)
from apps.jobs.services.submit import enqueue, job_get_or_enqueue, job_record

__all__ = [
    "LOG_LINES_KEPT",
    "LOST_ATTEMPTS_FORGIVEN",
    "Success",
    "enqueue",
    "job_cancel",
    "job_claim",
    "job_fail",
    "job_get_or_enqueue",
    "job_heartbeat",
    "job_mark_cancelled",
    "job_record",
    "job_retry",
    "job_succeed",
    "jobs_enqueue_scheduled",
    "jobs_prune",
    "jobs_publish_due",
    "jobs_purge",
    "jobs_recover_stale",
    "jobs_republish_lost",
    "jobs_succeed",
    "worker_name",
]
