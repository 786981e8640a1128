"""What the monitoring app listens to (connected in MonitoringConfig.ready).

Job metrics and query watching for jobs, from the jobs app's signals (no upward imports).
job_started: the wait (enqueue, or due time of a retry or schedule, to start) goes into the
job_wait series of "<queue>:<kind>"; a start with attempts > 1 is a retry, which counts as
a failed attempt. A QueryWatch is installed on this thread's connections for the job.
job_finished: the run time of the last attempt and its final status go into job_run.

Silk's rows: before Silk saves a request or a response (pre_save), the secrets in it are
masked (apps.monitoring.silk_sampling, "What Silk stores").
"""

import threading

from django.db import connections
from django.db.models.signals import pre_save
from silk.models import Request as SilkRequest
from silk.models import Response as SilkResponse

from apps.core.signals import circuit_changed
from apps.jobs.signals import job_finished, job_started
from apps.monitoring.models import MetricKind
from apps.monitoring.querywatch import QueryWatch
from apps.monitoring.recorder import recorder
from apps.monitoring.services.outages import redis_outage_record
from apps.monitoring.silk_sampling import silk_request_scrub, silk_response_scrub

_local = threading.local()
# Job id -> its watch and the connections it is installed on. A worker records a success
# later, from its JobsThread: job_finished then arrives on another thread than the job's.
_watches: dict[int, tuple[QueryWatch, list]] = {}


def job_series(job) -> str:
    return f"{job.queue}:{job.kind}"


def _install_watch(job) -> None:
    # This thread's previous job may still wait for its end to be recorded: its queries are over.
    _remove_watch(getattr(_local, "job_id", None))
    key = job_series(job)
    watch = QueryWatch("job", key)
    watch.name(key, job=job.kind, queue=job.queue)
    installed = [connections[alias] for alias in connections]
    for connection in installed:
        connection.execute_wrappers.append(watch)
    _watches[job.pk] = (watch, installed)
    _local.job_id = job.pk


def _remove_watch(job_id: int | None) -> None:
    entry = _watches.pop(job_id, None) if job_id is not None else None
    if entry is None:
        return
    watch, installed = entry
    for connection in installed:
        if watch in connection.execute_wrappers:
            connection.execute_wrappers.remove(watch)
    watch.finish()


def on_job_started(sender, job, **kwargs) -> None:
    key = job_series(job)
    if job.started_at is not None:
        due = job.run_at or job.created_at
        wait_ms = max(0.0, (job.started_at - due).total_seconds() * 1000.0) if due else 0.0
        recorder.observe(MetricKind.JOB_WAIT, key, wait_ms, at=job.started_at.timestamp())
    if job.attempts > 1:
        recorder.count(MetricKind.JOB_RUN, key, {"retries": 1}, errors=1)
    _install_watch(job)


def on_job_finished(sender, job, status, **kwargs) -> None:
    key = job_series(job)
    if job.started_at is not None and job.finished_at is not None:
        run_ms = max(0.0, (job.finished_at - job.started_at).total_seconds() * 1000.0)
        recorder.observe(
            MetricKind.JOB_RUN,
            key,
            run_ms,
            error=status == "dead",
            counters={str(status): 1},
            at=job.finished_at.timestamp(),
        )
    else:
        recorder.count(MetricKind.JOB_RUN, key, {str(status): 1}, errors=int(status == "dead"))
    _remove_watch(job.pk)


def on_circuit_changed(sender, name: str, opened: bool, error: str = "", **kwargs) -> None:
    redis_outage_record(component=name, opened=opened, error=error)


def connect() -> None:
    circuit_changed.connect(on_circuit_changed, dispatch_uid="monitoring.circuit_changed")
    job_started.connect(on_job_started, dispatch_uid="monitoring.job_started")
    job_finished.connect(on_job_finished, dispatch_uid="monitoring.job_finished")
    pre_save.connect(silk_request_scrub, sender=SilkRequest, dispatch_uid="monitoring.silk_request_scrub")
    pre_save.connect(silk_response_scrub, sender=SilkResponse, dispatch_uid="monitoring.silk_response_scrub")
