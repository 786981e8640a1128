"""Running one job inside a worker: claim, context, heartbeat, outcome.

1. Claim the job with one conditional UPDATE; a duplicate delivery finds nothing and returns.
2. Call the kind's function with a JobContext (progress, log, cancellation).
3. One thread per process (JobsThread) keeps the heartbeat_at of its running jobs fresh and
   notices cancel requests; if a cancelled job does not stop within JOBS_CANCEL_GRACE
   seconds, it ends its own worker process (django-q2's guard starts a new one), so cancel
   always works. No thread is started per job.
4. Record the outcome: success, a failed attempt (retry or dead), timeout, or cancelled.
   In a worker, successes are recorded by that thread, several in one statement.
"""

import json
import logging
import os
import signal
import threading
import time
import traceback
from collections import deque
from multiprocessing.util import Finalize

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
# Successes recorded by one statement at most.
END_BATCH_MAX = 200
# Seconds before writing ends again after the database refused them.
END_RETRY_AFTER = 1.0


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
        # Kept by the JobsThread: held while it works on this job.
        self.busy = threading.Lock()
        self.may_kill_process = False
        self.beat_at = 0.0
        self.cancel_seen_at: float | None = None

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


class JobsThread(threading.Thread):
    """One per process: the heartbeats of the jobs running in it and, in a worker, the
    successes waiting to be recorded.

    Each tick it writes progress a job left unwritten (it runs in a transaction, or only
    logged), else beats once per JOBS_HEARTBEAT_INTERVAL; both tell cancel and loss. If a
    cancelled job does not stop within JOBS_CANCEL_GRACE seconds, it ends its worker.
    A worker's successes are written together, JOBS_END_BATCH_SECONDS after the first of
    them (one statement, services.jobs_succeed), and before the process exits.
    """

    def __init__(self) -> None:
        super().__init__(name="jobs-heartbeats", daemon=True)
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._running: dict[int, JobContext] = {}
        self._ends: list[services.Success] = []
        self._ends_since = 0.0
        self._stopping = False
        self._waiting_for = 0.0
        self._in_worker = False
        self._at_exit: Finalize | None = None

    # --- called by the job's thread ---------------------------------------------------

    def watch(self, ctx: JobContext, *, may_kill_process: bool) -> None:
        ctx.may_kill_process = may_kill_process
        self._in_worker = self._in_worker or may_kill_process
        ctx.beat_at = time.monotonic()
        with self._lock:
            self._running[id(ctx)] = ctx
        if _tick() < self._waiting_for:
            # The heartbeat interval was shortened (tests) while the thread waits a longer tick.
            self._wake.set()

    def unwatch(self, ctx: JobContext) -> None:
        """Stop watching ``ctx``; returns once this thread is done with it."""
        with self._lock:
            self._running.pop(id(ctx), None)
        with ctx.busy:
            pass

    def end(self, success: services.Success) -> None:
        """Record ``success`` with the others that end within JOBS_END_BATCH_SECONDS."""
        if self._at_exit is None:
            # django-q2 ends a worker process (recycling, timeout, stop) through
            # multiprocessing, which runs these finalizers but not atexit's.
            self._at_exit = Finalize(self, self.stop, exitpriority=100)
        with self._lock:
            self._ends.append(success)
            first = len(self._ends) == 1
            if first:
                self._ends_since = time.monotonic()
        if first or len(self._ends) >= END_BATCH_MAX:
            self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is waiting and end the thread."""
        self._stopping = True
        self._wake.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    # --- this thread ----------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self._stopping:
                self._wake.wait(self._next_wait())
                self._wake.clear()
                wrote = self._write_ends_due()
                wrote = self._beat_all() or wrote
                if not wrote and not self._running and not self._ends and not self._in_worker:
                    # Idle outside a worker (tests, commands): hold no connection a test
                    # database waits on. A worker keeps it for its next jobs.
                    connection.close()
                elif self._in_worker:
                    close_old_connections()
        except Exception:
            logger.exception("jobs thread failed")
        finally:
            for _ in range(5):
                self._write_ends(force=True)
                if not self._ends:
                    break
                time.sleep(0.5)
            connection.close()

    def _next_wait(self) -> float:
        wait = self._waiting_for = _tick()
        if self._ends:
            due = self._ends_since + _end_window() - time.monotonic()
            wait = min(wait, max(due, 0.0))
        return wait

    def _write_ends_due(self) -> bool:
        if not self._ends:
            return False
        due = time.monotonic() - self._ends_since >= _end_window()
        return self._write_ends(force=due or len(self._ends) >= END_BATCH_MAX)

    def _write_ends(self, *, force: bool) -> bool:
        """Write the waiting successes (all of them, up to END_BATCH_MAX per statement)."""
        wrote = False
        while force and self._ends:
            with self._lock:
                batch, self._ends = self._ends[:END_BATCH_MAX], self._ends[END_BATCH_MAX:]
                self._ends_since = time.monotonic()
            try:
                services.jobs_succeed(successes=batch)
            except DatabaseError as exc:
                # Written again on a fresh connection: a job is fenced by its attempt, so
                # a batch that did commit before the error changes nothing the second time.
                logger.warning("recording %d job ends failed, retrying: %s", len(batch), exc)
                connection.close()
                with self._lock:
                    self._ends[:0] = batch
                    self._ends_since = time.monotonic() + END_RETRY_AFTER
                return wrote
            except Exception:
                # Not written: these jobs keep running until the dispatcher's recovery
                # takes them for lost and runs them again.
                logger.exception("recording %d job ends failed", len(batch))
            wrote = True
        return wrote

    def _beat_all(self) -> bool:
        interval = settings.JOBS_HEARTBEAT_INTERVAL
        wrote = False
        with self._lock:
            running = list(self._running.values())
        for ctx in running:
            with ctx.busy:
                if id(ctx) not in self._running:
                    continue
                now = time.monotonic()
                try:
                    if ctx.flush_due(now):
                        ctx.flush()
                    elif now - ctx.beat_at >= interval:
                        ctx.beat()
                    else:
                        continue
                except DatabaseError as exc:
                    # A database hiccup must not end the heartbeat for good, or the live job
                    # would be taken for lost and run again: retried with a fresh connection.
                    logger.warning("heartbeat of job %s failed, retrying: %s", ctx.job_id, exc)
                    connection.close()
                    continue
                wrote = True
                ctx.beat_at = now
                if ctx.cancelled.is_set() and not ctx.lost.is_set():
                    self._enforce_cancel(ctx)
        return wrote

    def _enforce_cancel(self, ctx: JobContext) -> None:
        now = time.monotonic()
        if ctx.cancel_seen_at is None:
            ctx.cancel_seen_at = now
            return
        if now - ctx.cancel_seen_at < settings.JOBS_CANCEL_GRACE:
            return
        # The job ignored the cancel: record it, then end this worker process.
        _, log = ctx.snapshot()
        log.append(
            f"{timezone.now():%H:%M:%S} did not stop within {settings.JOBS_CANCEL_GRACE}s; worker ended"
        )
        services.job_mark_cancelled(job_id=ctx.job_id, attempt=ctx.attempt, log=log)
        ctx.lost.set()
        if ctx.may_kill_process:
            logger.warning("job %s ignored cancel; ending worker %s", ctx.job.uuid, os.getpid())
            self._write_ends(force=True)
            connection.close()
            os.kill(os.getpid(), signal.SIGKILL)


def _end_window() -> float:
    """How long a success waits for others: JOBS_END_BATCH_SECONDS, but never longer than a
    heartbeat interval (nothing beats a job whose success waits, and the dispatcher must
    not take it for a dead worker's)."""
    return min(settings.JOBS_END_BATCH_SECONDS, settings.JOBS_HEARTBEAT_INTERVAL)


def _tick() -> float:
    """How often the JobsThread looks at its running jobs (seconds)."""
    return max(min(settings.JOBS_HEARTBEAT_INTERVAL, PROGRESS_WRITE_INTERVAL), 0.05)


_thread: JobsThread | None = None
_thread_lock = threading.Lock()


def jobs_thread() -> JobsThread:
    """This process's JobsThread, started on first use (and again in a forked child)."""
    global _thread
    with _thread_lock:
        if _thread is None or _thread.pid != os.getpid() or not _thread.is_alive():
            _thread = JobsThread()
            _thread.start()
        return _thread


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
    watcher = jobs_thread()
    watcher.watch(ctx, may_kill_process=in_worker)
    outcome = "failed"
    try:
        result = kind.func(ctx, params)
        result = json.loads(json.dumps(result, default=str))
    except JobCancelled:
        watcher.unwatch(ctx)
        _, log = ctx.snapshot()
        services.job_mark_cancelled(job_id=job.pk, attempt=job.attempts, log=[*log, "cancelled"])
        outcome = "cancelled"
    except JobLost:
        watcher.unwatch(ctx)
        outcome = "lost"
    except PermanentJobError as exc:
        watcher.unwatch(ctx)
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
        watcher.unwatch(ctx)
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
        watcher.unwatch(ctx)
        progress, log = ctx.snapshot()
        if in_worker and _ends_batched():
            # Recorded with the other ends of the next few milliseconds (JobsThread). A
            # worker killed before that leaves the job running: the dispatcher takes it
            # for lost and it runs again (at least once, as for any killed worker).
            success = services.Success(
                job=job,
                attempt=job.attempts,
                result=result,
                progress=progress,
                log=log,
                finished_at=timezone.now(),
            )
            watcher.end(success)
            return "succeeded"
        succeeded = services.job_succeed(
            job=job, attempt=job.attempts, result=result, progress=progress, log=log
        )
        outcome = "succeeded" if succeeded else "lost"
    return outcome


def _ends_batched() -> bool:
    """Successes wait for a batch in worker processes on PostgreSQL (one statement for many)."""
    return settings.JOBS_END_BATCH_SECONDS > 0 and connection.vendor == "postgresql"
