"""Throughput of tracked jobs against bare django-q2, and the API's enqueue latency.

Usage (PostgreSQL and Redis required; a dedicated Redis database number is best):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench \\
    REDIS_URL=redis://127.0.0.1:6379/10 \\
    .venv/bin/python benchmarks/jobs_throughput.py [--jobs 3000] [--runs 3] [--workers 2]
        [--owners 50] [--no-owner | --owner-only] [--api-requests 300]

Both kinds of tracked jobs are measured unless one is asked for: jobs with an owner, as
every job submitted through the API or the pages has (each one's end writes the owner's
in-app notification and refreshes their bell, whose unread count is a COUNT over the
owner's unread notifications), round-robin over ``--owners`` benchmark users (default
preferences, no webhook endpoints); and jobs without an owner (scheduled and system
jobs: the jobs engine alone).

Every figure is the median of ``--runs`` runs, alternated with the bare run (bare,
tracked, bare, tracked, ...), so that the load of a shared machine weighs on both alike:

1. Worker side: with the cluster stopped, N messages are put in the broker (tracked: N
   ``diagnostics.noop`` jobs enqueued in one transaction, published on commit; bare: N
   ``async_task`` calls of ``bare_noop`` below), then a `qcluster` for the default queue
   (JOBS_WORKERS_DEFAULT workers, save_limit -1 as configured) starts. Figure: N / (the
   first job's start -> the last end recorded). A tracked job's end is its row's
   ``updated_at`` (when its success was written) or, with an owner, the owner's
   notification, whichever is later; a bare task records its first and Nth Redis INCR.
2. End to end: the cluster running, one producer enqueues N (one ``enqueue`` per
   transaction) or calls ``async_task`` N times. Figure: N / (first enqueue -> last end).
3. Queries and Redis round trips per tracked job: N/10 jobs run in this process as a
   worker runs them (``runner.execute(..., in_worker=True)``, back to back), counting
   every statement on any of its database connections and every command (or pipeline)
   sent to Redis, from the claim to the owner's bell.
4. API (benchmarks/jobs_api_latency.py): POST /api/jobs against a gunicorn on 127.0.0.1,
   one request at a time, and services.enqueue in-process; ``--api-requests 0`` skips it.

The rows this run creates (jobs, attempts, notifications, its API token) are deleted at the end.
"""

import argparse
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_USER = "benchmark-api"

# Tracked / bare, worker side: with an owner (each end notifies), and without.
OWNER_TARGET_RATIO = 0.5
NO_OWNER_TARGET_RATIO = 0.7
API_P50_TARGET_MS = 5.0

_redis_client = None


def bare_noop(counter_key: str, total: int) -> None:
    """The bare task: count itself; the one that reaches ``total`` records the time."""
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    count = _redis_client.incr(counter_key)
    if count == 1:
        _redis_client.set(f"{counter_key}:first", repr(time.time()), ex=3600)
    if count == total:
        _redis_client.set(f"{counter_key}:done", repr(time.time()), ex=3600)


# --- processes --------------------------------------------------------------------------


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A process in its own session: its pid is the group to end."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen, *, grace: float = 15.0) -> None:
    """SIGTERM to the leader (a qcluster deadlocks if its whole group gets it), then SIGKILL the group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_until(condition, *, timeout: float, what: str, every: float = 0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"Gave up after {timeout:g}s waiting for {what}.")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- measurements -----------------------------------------------------------------------


class Cluster:
    """A qcluster of the default queue, started and stopped between worker-side runs."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.process = env, log, None

    def start(self) -> None:
        if self.process is None:
            self.process = start([sys.executable, "manage.py", "qcluster"], self.env, self.log)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def tracked_end_to_end(count: int, owners: list) -> float:
    """Jobs/s from the first enqueue (one per transaction) to the last end."""
    started = time.time()
    first = _enqueue(count, owners)
    return count / (_last_end(first.pk, owners, count) - started)


def tracked_worker_side(count: int, owners: list, cluster: Cluster) -> float:
    """Jobs/s from the first job's start to the last end, all N waiting in the broker."""
    from django.db import transaction
    from django.db.models import Min

    cluster.stop()
    with transaction.atomic():
        first = _enqueue(count, owners)
    cluster.start()
    finished = _last_end(first.pk, owners, count)
    began = _ours(first.pk, owners).aggregate(first=Min("started_at"))["first"].timestamp()
    return count / (finished - began)


def _enqueue(count: int, owners: list):
    """``count`` no-op jobs, owned round-robin by ``owners``; the first of them."""
    from apps.jobs import services

    first = services.enqueue("diagnostics.noop", owner=owners[0])
    for index in range(1, count):
        services.enqueue("diagnostics.noop", owner=owners[index % len(owners)])
    return first


def _last_end(first_pk: int, owners: list, count: int) -> float:
    """Wait until the ``count`` jobs from ``first_pk`` have all succeeded (and, with owners,
    their notifications exist); when the last end was written."""
    from django.db.models import Max

    from apps.jobs.models import Status
    from apps.notifications.models import Notification

    ours = _ours(first_pk, owners)
    wait_until(
        lambda: ours.filter(status=Status.SUCCEEDED).count() >= count,
        timeout=600,
        what=f"{count} tracked jobs",
        every=0.05,
    )
    assert not ours.exclude(status=Status.SUCCEEDED).exists(), "some tracked jobs did not succeed"
    last = ours.aggregate(last=Max("updated_at"))["last"].timestamp()
    if owners != [None]:
        # The owners' notifications are written after the ends: give the last ones a moment.
        time.sleep(0.5)
        told = Notification.objects.filter(recipient__in=owners, event="job.succeeded")
        newest = told.aggregate(last=Max("created_at"))["last"]
        if newest is not None:
            last = max(last, newest.timestamp())
    return last


def _ours(first_pk: int, owners: list):
    from apps.jobs.models import Job

    jobs = Job.objects.filter(pk__gte=first_pk, kind="diagnostics.noop")
    return jobs.filter(owner=None) if owners == [None] else jobs.filter(owner__in=owners)


def bare(count: int, connection, cluster: Cluster, *, worker_side: bool) -> float:
    """No-ops/s of bare async_task: worker side (all N waiting before the cluster starts,
    first task to last) or end to end (first async_task to the last task)."""
    from django_q.tasks import async_task

    from apps.jobs import broker

    key = f"tempo:benchmark:bare:{secrets.token_hex(4)}"
    options = {"broker": broker.broker_for("default"), "cluster": "default", "timeout": 30}
    if worker_side:
        cluster.stop()
    started = time.time()
    for _ in range(count):
        async_task("benchmarks.jobs_throughput.bare_noop", key, count, q_options=dict(options))
    cluster.start()
    done = wait_until(
        lambda: connection.get(f"{key}:done"), timeout=600, what=f"{count} bare tasks", every=0.005
    )
    if worker_side:
        started = float(connection.get(f"{key}:first"))
    connection.delete(key, f"{key}:first", f"{key}:done")
    return count / (float(done) - started)


def counted_per_job(count: int, owners: list, connection) -> tuple[float, float]:
    """(statements, Redis round trips) per job, running ``count`` jobs in this process as
    a worker does, back to back, the cluster stopped."""
    import itertools

    import redis.connection
    from django.db.backends.utils import CursorWrapper

    from apps.jobs import runner

    first = _enqueue(count, owners)
    connection.delete("django_q:default:q")  # run here, not by a cluster
    ids = list(_ours(first.pk, owners).order_by("pk").values_list("pk", flat=True))
    statements, round_trips = itertools.count(), itertools.count()
    execute, send = (
        CursorWrapper._execute_with_wrappers,
        redis.connection.AbstractConnection.send_packed_command,
    )

    def counted_execute(self, *args, **kwargs):
        next(statements)
        return execute(self, *args, **kwargs)

    def counted_send(self, *args, **kwargs):
        next(round_trips)
        return send(self, *args, **kwargs)

    CursorWrapper._execute_with_wrappers = counted_execute
    redis.connection.AbstractConnection.send_packed_command = counted_send
    try:
        for pk in ids:
            runner.execute(pk, in_worker=True)
        thread = getattr(runner, "jobs_thread", None)
        if thread is not None:
            thread().stop()  # writes the successes still waiting for their batch
    finally:
        CursorWrapper._execute_with_wrappers = execute
        redis.connection.AbstractConnection.send_packed_command = send
    _last_end(first.pk, owners, count)
    return next(statements) / count, next(round_trips) / count


def _spread(rates: list[float]) -> str:
    """The median of some rates, with their range."""
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


# --- the run ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3000, help="Jobs (and bare tasks) per measurement.")
    parser.add_argument("--runs", type=int, default=3, help="Runs of each measurement (the median is shown).")
    parser.add_argument("--workers", type=int, default=2, help="Workers of the default queue's cluster.")
    parser.add_argument(
        "--api-requests", type=int, default=300, help="POST /api/jobs requests timed (0: none)."
    )
    parser.add_argument(
        "--owners", type=int, default=50, help="Benchmark users the tracked jobs belong to, round-robin."
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--no-owner", action="store_true", help="Only tracked jobs without an owner.")
    only.add_argument("--owner-only", action="store_true", help="Only tracked jobs with an owner.")
    options = parser.parse_args()
    if options.jobs < 10 or options.runs < 1:
        parser.error("--jobs must be at least 10 and --runs at least 1")

    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        print(
            "This benchmark measures the production setup: set DATABASE_URL to a PostgreSQL "
            "database and REDIS_URL to a Redis database, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench "
            "REDIS_URL=redis://127.0.0.1:6379/10 .venv/bin/python benchmarks/jobs_throughput.py",
            file=sys.stderr,
        )
        return 2

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "0")
    # The subprocesses sign and check broker messages with it: one key for all of them.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(40))
    # A log line per enqueue or task would be part of what is measured.
    os.environ["LOG_LEVEL"] = os.environ["JOBS_BROKER_LOG_LEVEL"] = "WARNING"
    # The per-user quota is checked (and its cost measured) but never reached by the burst.
    os.environ.setdefault("JOBS_USER_MAX_ACTIVE", "1000000")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import redis
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from apps.core.models import ApiToken
    from apps.jobs.models import Job
    from apps.notifications.models import Notification

    call_command("migrate", verbosity=0)
    connection = redis.Redis.from_url(redis_url)
    waiting = connection.llen("django_q:default:q")
    if waiting:
        print(
            f"{waiting} messages already wait in django_q:default:q of {redis_url}: another cluster "
            "or an earlier run uses this Redis database. Use another database number.",
            file=sys.stderr,
        )
        return 2

    logs = Path(os.environ.get("BENCHMARK_LOG_DIR", "/tmp")) / f"tempo-jobs-throughput-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "Q_CLUSTER_NAME": "default",
        "JOBS_WORKERS_DEFAULT": str(options.workers),
    }
    user = get_user_model().objects.get_or_create(username=BENCH_USER)[0]
    token_name = f"jobs-throughput-{os.getpid()}"
    first_pk = (Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    first_notification_pk = (
        Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ) + 1
    modes = {}
    if not options.no_owner:
        modes[f"owned by {options.owners} users"] = [
            get_user_model().objects.get_or_create(username=f"benchmark-owner-{index}")[0]
            for index in range(max(options.owners, 1))
        ]
    if not options.owner_only:
        modes["without an owner"] = [None]
    cluster = Cluster(env, logs / "qcluster.log")
    processes = []
    results: dict[str, dict[str, list[float]]] = {}
    counts = {}
    api = in_process = None
    count = options.jobs
    try:
        cluster.start()
        print(f"qcluster ({options.workers} workers) started; warming up", file=sys.stderr)
        for owners in modes.values():
            tracked_end_to_end(50, owners)
        bare(50, connection, cluster, worker_side=False)
        for whose, owners in modes.items():
            runs = results[whose] = {
                "bare worker": [],
                "tracked worker": [],
                "bare e2e": [],
                "tracked e2e": [],
            }
            for run in range(1, options.runs + 1):
                print(f"{whose}, run {run}/{options.runs}: worker side, then end to end", file=sys.stderr)
                runs["bare worker"].append(bare(count, connection, cluster, worker_side=True))
                runs["tracked worker"].append(tracked_worker_side(count, owners, cluster))
                runs["bare e2e"].append(bare(count, connection, cluster, worker_side=False))
                runs["tracked e2e"].append(tracked_end_to_end(count, owners))
        cluster.stop()
        for whose, owners in modes.items():
            counts[whose] = counted_per_job(max(count // 10, 10), owners, connection)

        if options.api_requests:
            cluster.start()
            from benchmarks.jobs_api_latency import measure_api_and_enqueue

            api, in_process = measure_api_and_enqueue(
                options.api_requests, user, token_name, env, logs, processes
            )
            # Let the cluster run what the API measurements enqueued: no messages stay behind.
            wait_until(
                lambda: not Job.objects.filter(pk__gte=first_pk, status__in=("queued", "running")).exists(),
                timeout=300,
                what="the API's jobs to finish",
                every=0.1,
            )
    finally:
        for process in reversed(processes):
            stop(process)
        cluster.stop()
        deleted, _ = Job.objects.filter(pk__gte=first_pk, kind="diagnostics.noop").delete()
        Notification.objects.filter(
            pk__gte=first_notification_pk, recipient__username__startswith="benchmark-"
        ).delete()
        ApiToken.objects.filter(user=user, name=token_name).delete()
        print(f"cleaned up {deleted} rows; process logs in {logs}", file=sys.stderr)

    print()
    print(
        f"Tempo jobs: {count:,} diagnostics.noop jobs per run, median of {options.runs} runs alternated "
        f"with bare django-q2, {options.workers} workers, PostgreSQL + Redis, {os.cpu_count()} CPUs"
    )
    rows = []
    for whose, runs in results.items():
        target = NO_OWNER_TARGET_RATIO if whose == "without an owner" else OWNER_TARGET_RATIO
        for side, label in (("worker", "worker side"), ("e2e", "end to end")):
            tracked, bare_rates = runs[f"tracked {side}"], runs[f"bare {side}"]
            ratios = [t / b for t, b in zip(tracked, bare_rates, strict=True)]
            ratio = statistics.median(ratios)
            rows.append((f"tracked jobs/s {whose}, {label}", _spread(tracked), "", ""))
            rows.append((f"bare async_task no-ops/s, {label}", _spread(bare_rates), "", ""))
            checked = side == "worker"
            rows.append(
                (
                    f"  tracked / bare (median of each run's ratio; {', '.join(f'{r:.2f}' for r in ratios)})",
                    f"{ratio:.2f}",
                    f">= {target:.2f}" if checked else "",
                    ("ok" if ratio >= target else "MISSED") if checked else "",
                )
            )
        statements, round_trips = counts[whose]
        rows.append(
            (
                f"per job {whose}: SQL statements, Redis round trips",
                f"{statements:.2f}, {round_trips:.2f}",
                "",
                "",
            )
        )
    if api:
        api_p50 = statistics.median(api)
        rows += [
            (
                f"API POST /api/jobs p50 ({options.api_requests} requests, 2 gunicorn workers)",
                f"{api_p50:.2f} ms",
                f"<= {API_P50_TARGET_MS:g} ms",
                "ok" if api_p50 <= API_P50_TARGET_MS else "MISSED",
            ),
            ("API POST /api/jobs p99", f"{percentile(api, 0.99):.2f} ms", "", ""),
            ("services.enqueue in-process p50", f"{statistics.median(in_process):.2f} ms", "", ""),
            ("services.enqueue in-process p99", f"{percentile(in_process, 0.99):.2f} ms", "", ""),
        ]
    header = ("measurement", "figure", "target", "")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
