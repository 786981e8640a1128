"""Running one job inside a worker: claim, context, heartbeat, outcome.

1. Claim the job with one conditional UPDATE; a duplicate delivery finds nothing and returns.
2. Call the kind's function with a JobContext (progress, log, cancellation).
3. A heartbeat thread keeps heartbeat_at fresh and notices cancel requests; if a cancelled
   job does not stop within JOBS_CANCEL_GRACE seconds, it ends its own worker process
   (django-q2's guard starts a new one), so cancel always works.
4. Record the outcome: success, a failed attempt (retry or dead), timeout, or cancelled.
"""

import json
import logging
import os
import signal
import threading
import time
import traceback
from collections import deque

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django_q.exceptions import TimeoutException

from apps.core.progress import Progress
from apps.jobs import services
from apps.jobs.errors import PermanentJobError, UnknownJobKind
from apps.jobs.models import Job, JobAttempt
from apps.jobs.registry import kind_get

logger = logging.getLogger("apps.jobs")

# Progress is written to the database at most this often (seconds).
PROGRESS_WRITE_INTERVAL = 0.5


class JobCancelled(Exception):
    """Raised inside a job at its next progress()/check_cancelled() after a cancel."""


class JobLost(Exception):
    """This attempt no longer holds the job (it was recovered and re-run elsewhere)."""


class JobContext(Progress):
    """What a job function gets to talk back: ``ctx.progress()`` (the one Progress
    protocol, so a job can hand its context to anything that reports progress),
    ``ctx.log()``, cancellation."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.job_id = job.pk
        self.attempt = job.attempts
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self._lock = threading.Lock()
        self._progress: tuple[int, int | None, str] = (0, job.progress_total, "")
        self._log: deque[str] = deque(job.log or [], maxlen=services.LOG_LINES_KEPT)
        self._dirty = False
        self._written_at = 0.0

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Report progress; cheap to call often (written at most twice a second)."""
        with self._lock:
            _, old_total, old_message = self._progress
            self._progress = (
                int(done),
                int(total) if total is not None else old_total,
                (message or old_message)[:500],
            )
            self._dirty = True
        # Inside the job's own transaction (or a COPY) a write would stay invisible until
        # the commit and could wait on the job's locks: the heartbeat thread writes it then,
        # on its own connection.
        if self.flush_due(time.monotonic()) and not connection.in_atomic_block:
            self.flush()
        self.check_cancelled()

    def log(self, message: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        with self._lock:
            self._log.append(f"{stamp} {message}"[:1000])
            self._dirty = True

    def check_cancelled(self) -> None:
        if self.lost.is_set():
            raise JobLost()
        if self.cancelled.is_set():
            raise JobCancelled()

    def snapshot(self) -> tuple[tuple[int, int | None, str], list[str]]:
        with self._lock:
            self._dirty = False
            return self._progress, list(self._log)

    def flush_due(self, now: float) -> bool:
        """Progress or log is unwritten and the last write is PROGRESS_WRITE_INTERVAL
        old at ``now`` (time.monotonic())."""
        return self._dirty and now - self._written_at >= PROGRESS_WRITE_INTERVAL

    def flush(self, *, force: bool = False) -> None:
        """Write progress and log (with a heartbeat) if anything changed."""
        if not (self._dirty or force):
            return
        progress, log = self.snapshot()
        self._written_at = time.monotonic()
        owned, cancel = services.job_heartbeat(
            job_id=self.job_id, attempt=self.attempt, progress=progress, log=log
        )
        self._observe(owned, cancel)

    def beat(self) -> None:
        """Keep heartbeat_at fresh, writing nothing else; notes a cancel or the loss of the job."""
        owned, cancel = services.job_heartbeat(job_id=self.job_id, attempt=self.attempt)
        self._observe(owned, cancel)

    def _observe(self, owned: bool, cancel: bool) -> None:
        if not owned:
            self.lost.set()
        elif cancel:
            self.cancelled.set()


class Heartbeat(threading.Thread):
    def __init__(self, ctx: JobContext, *, may_kill_process: bool) -> None:
        super().__init__(name=f"heartbeat-job-{ctx.job_id}", daemon=True)
        self.ctx = ctx
        self.may_kill_process = may_kill_process
        self.stopping = threading.Event()
        self.cancel_seen_at: float | None = None

    def run(self) -> None:
        """Every tick: write progress the job left unwritten (it runs in a transaction, or
        only logged), else beat once per JOBS_HEARTBEAT_INTERVAL; both tell cancel and loss."""
        interval = settings.JOBS_HEARTBEAT_INTERVAL
        tick = max(min(interval, PROGRESS_WRITE_INTERVAL), 0.05)
        beat_at = time.monotonic()
        try:
            while not self.stopping.wait(tick):
                now = time.monotonic()
                try:
                    if self.ctx.flush_due(now):
                        self.ctx.flush()
                    elif now - beat_at >= interval:
                        self.ctx.beat()
                    else:
                        continue
                except DatabaseError as exc:
                    # A database hiccup must not end the heartbeat for good, or the live job
                    # would be taken for lost and run again: retry with a fresh connection.
                    logger.warning("heartbeat of job %s failed, retrying: %s", self.ctx.job_id, exc)
                    connection.close()
                    continue
                beat_at = now
                if self.ctx.lost.is_set():
                    return
                if self.ctx.cancelled.is_set():
                    self._enforce_cancel()
        except Exception:
            logger.exception("heartbeat of job %s failed", self.ctx.job_id)
        finally:
            connection.close()

    def _enforce_cancel(self) -> None:
        now = time.monotonic()
        if self.cancel_seen_at is None:
            self.cancel_seen_at = now
            return
        if now - self.cancel_seen_at < settings.JOBS_CANCEL_GRACE:
            return
        # The job ignored the cancel: record it, then end this worker process.
        _, log = self.ctx.snapshot()
        log.append(
            f"{timezone.now():%H:%M:%S} did not stop within {settings.JOBS_CANCEL_GRACE}s; worker ended"
        )
        services.job_mark_cancelled(job_id=self.ctx.job_id, attempt=self.ctx.attempt, log=log)
        self.ctx.lost.set()
        if self.may_kill_process:
            logger.warning("job %s ignored cancel; ending worker %s", self.ctx.job.uuid, os.getpid())
            connection.close()
            os.kill(os.getpid(), signal.SIGKILL)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def _database_connection_lost() -> bool:
    """True (and the connection closed, so the next query reconnects) if the worker's
    database connection died: a terminated backend or a restarted server. Such a job is
    lost, not failed, and recording that needs a working connection; otherwise the job
    would wait for its heartbeat to go stale."""
    if connection.connection is None or connection.is_usable():
        return False
    connection.close()
    return True


def execute(job_id: int, *, in_worker: bool = False) -> str:
    """Run one job (the django-q2 task body). Returns what happened, for logs and tests."""
    if not in_worker:
        # django-q2's worker has just done this before calling us.
        close_old_connections()
    job = services.job_claim(job_id=job_id, worker=services.worker_name())
    if job is None:
        return "not claimed"
    try:
        kind = kind_get(job.kind)
        params = kind.params.model_validate(job.params)
    except (UnknownJobKind, ValueError) as exc:
        services.job_fail(job_id=job.pk, attempt=job.attempts, error=f"Cannot run: {exc}")
        return "failed"

    ctx = JobContext(job)
    heartbeat = Heartbeat(ctx, may_kill_process=in_worker)
    heartbeat.start()
    outcome = "failed"
    try:
        result = kind.func(ctx, params)
        result = json.loads(json.dumps(result, default=str))
    except JobCancelled:
        heartbeat.stop()
        _, log = ctx.snapshot()
        services.job_mark_cancelled(job_id=job.pk, attempt=job.attempts, log=[*log, "cancelled"])
        outcome = "cancelled"
    except JobLost:
        heartbeat.stop()
        outcome = "lost"
    except PermanentJobError as exc:
        heartbeat.stop()
        progress, log = ctx.snapshot()
        services.job_fail(
            job_id=job.pk,
            attempt=job.attempts,
            error=str(exc) or type(exc).__name__,
            log=log,
            progress=progress,
            final=True,
        )
    except BaseException as exc:
        # BaseException on purpose: django-q2's timeout is a SystemExit subclass.
        heartbeat.stop()
        timed_out = isinstance(exc, TimeoutException)
        if timed_out:
            outcome_kind = JobAttempt.Outcome.TIMED_OUT
        elif isinstance(exc, DatabaseError) and _database_connection_lost():
            outcome_kind = JobAttempt.Outcome.LOST
        else:
            outcome_kind = JobAttempt.Outcome.FAILED
        progress, log = ctx.snapshot()
        services.job_fail(
            job_id=job.pk,
            attempt=job.attempts,
            error=f"Timed out after {job.timeout}s" if timed_out else f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            outcome=outcome_kind,
            log=log,
            progress=progress,
        )
        if not isinstance(exc, Exception):
            # Let django-q2 see its timeout (it recycles the worker) and shutdowns.
            raise
    else:
        heartbeat.stop()
        progress, log = ctx.snapshot()
        succeeded = services.job_succeed(
            job=job, attempt=job.attempts, result=result, progress=progress, log=log
        )
        outcome = "succeeded" if succeeded else "lost"
    return outcome
