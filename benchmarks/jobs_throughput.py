"""Throughput of tracked jobs against bare django-q2, and the API's enqueue latency.

Usage (PostgreSQL and Redis required; a dedicated Redis database number is best):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench \\
    REDIS_URL=redis://127.0.0.1:6379/10 \\
    .venv/bin/python benchmarks/jobs_throughput.py [--jobs 5000] [--workers 2] [--owners 50 | --no-owner]

The tracked jobs have an owner, as every job submitted through the API or the pages has:
each one's end writes the owner's in-app notification and refreshes their bell (whose
unread count is a COUNT over the owner's unread notifications), as in production. The
jobs go round-robin to ``--owners`` benchmark users (default 50, default notification
preferences, no webhook endpoints), so that each ends the run with about 2N/50 unread
notifications; ``--owners 1`` is one user piling up every notification unread (the
worst case of the bell's count). ``--no-owner`` measures jobs nobody is told about
(scheduled and system jobs): the jobs engine alone.

1. Start one `qcluster` for the default queue (JOBS_WORKERS_DEFAULT workers, save_limit -1
   as configured) and warm it up.
2. Tracked: enqueue N `diagnostics.noop` jobs with services.enqueue (a Job row each,
   published on commit); the figure is N / (first enqueue -> last Job.finished_at).
3. Bare: N `async_task` calls of `bare_noop` below on the same cluster. Each call does
   one Redis INCR (its completion signal, a single round trip); the call that counts
   the Nth records the time. Figure: N / (first async_task -> that time).
4. API: POST /api/jobs with a Bearer token (manage.py create_api_token) against a
   gunicorn on 127.0.0.1, one request at a time; p50/p99 of the client-side latency.
   services.enqueue in-process is measured too, to tell HTTP from the enqueue itself.

The rows this run creates (jobs, attempts, notifications, its API token) are deleted at the end.
"""

import argparse
import contextlib
import http.client
import io
import json
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

TRACKED_TARGET_RATIO = 0.8
API_P50_TARGET_MS = 5.0

_redis_client = None


def bare_noop(counter_key: str, total: int) -> None:
    """The bare task: count itself; the one that reaches ``total`` records the time."""
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    if _redis_client.incr(counter_key) == total:
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


def measure_tracked(count: int, owners: list) -> dict:
    started = time.time()
    first = _enqueue(count, owners)
    enqueued = time.time()
    finished = _last_finish(first.pk, owners, count, what=f"{count} tracked jobs")
    return {
        "rate": count / (finished - started),
        "seconds": finished - started,
        "enqueue_rate": count / (enqueued - started),
        "first_pk": first.pk,
    }


def measure_tracked_drain(count: int, owners: list) -> dict:
    """Worker side alone: jobs enqueued in one transaction, timed from its commit to the last end."""
    from django.db import transaction

    marks: dict[str, float] = {}
    with transaction.atomic():
        first = _enqueue(count, owners)
        # Messages go out on commit; the clock starts when the first can be consumed.
        transaction.on_commit(lambda: marks.update(started=time.time()), robust=False)
    finished = _last_finish(first.pk, owners, count, what=f"{count} tracked jobs (drain)")
    return {"rate": count / (finished - marks["started"]), "seconds": finished - marks["started"]}


def _enqueue(count: int, owners: list):
    """``count`` no-op jobs, owned round-robin by ``owners``; the first of them."""
    from apps.jobs import services

    first = services.enqueue("diagnostics.noop", owner=owners[0])
    for index in range(1, count):
        services.enqueue("diagnostics.noop", owner=owners[index % len(owners)])
    return first


def _last_finish(first_pk: int, owners: list, count: int, *, what: str) -> float:
    """Wait until the ``count`` jobs from ``first_pk`` have all succeeded; when the last ended."""
    from django.db.models import Max

    from apps.jobs.models import Status

    ours = _ours(first_pk, owners)
    wait_until(
        lambda: ours.filter(status=Status.SUCCEEDED).count() >= count, timeout=600, what=what, every=0.05
    )
    assert not ours.exclude(status=Status.SUCCEEDED).exists(), "some tracked jobs did not succeed"
    return ours.aggregate(last=Max("finished_at"))["last"].timestamp()


def _ours(first_pk: int, owners: list):
    from apps.jobs.models import Job

    jobs = Job.objects.filter(pk__gte=first_pk, kind="diagnostics.noop")
    return jobs.filter(owner=None) if owners == [None] else jobs.filter(owner__in=owners)


def measure_bare(count: int, connection) -> dict:
    from django_q.tasks import async_task

    from apps.jobs import broker

    key = f"tempo:benchmark:bare:{secrets.token_hex(4)}"
    queue_broker = broker.broker_for("default")
    options = {"broker": queue_broker, "cluster": "default", "timeout": 30}
    started = time.time()
    for _ in range(count):
        async_task("benchmarks.jobs_throughput.bare_noop", key, count, q_options=dict(options))
    enqueued = time.time()
    done = wait_until(
        lambda: connection.get(f"{key}:done"), timeout=600, what=f"{count} bare tasks", every=0.005
    )
    finished = float(done)
    connection.delete(key, f"{key}:done")
    return {
        "rate": count / (finished - started),
        "seconds": finished - started,
        "enqueue_rate": count / (enqueued - started),
    }


def measure_api(url_port: int, token: str, requests: int) -> list[float]:
    body = json.dumps({"kind": "diagnostics.noop", "params": {}})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies = []
    for index in range(requests + 20):
        # gunicorn's sync workers close each connection: a client pays the connect too.
        conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=10)
        began = time.perf_counter()
        conn.request("POST", "/api/jobs", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - began
        conn.close()
        if response.status != 202:
            raise SystemExit(f"POST /api/jobs answered {response.status}: {payload[:300]!r}")
        if index >= 20:  # the first requests warm the workers up
            latencies.append(elapsed * 1000)
    return latencies


def measure_enqueue_in_process(requests: int, owner) -> list[float]:
    from apps.jobs import services

    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        services.enqueue("diagnostics.noop", owner=owner, user_submitted=True)
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


# --- the run ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000, help="Jobs (and bare tasks) per measurement.")
    parser.add_argument("--workers", type=int, default=2, help="Workers of the default queue's cluster.")
    parser.add_argument("--api-requests", type=int, default=500, help="POST /api/jobs requests timed.")
    parser.add_argument(
        "--owners", type=int, default=50, help="Benchmark users the tracked jobs belong to, round-robin."
    )
    parser.add_argument(
        "--no-owner", action="store_true", help="Tracked jobs without an owner (nobody is notified)."
    )
    options = parser.parse_args()

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
    python = sys.executable
    processes = []
    user = get_user_model().objects.get_or_create(username=BENCH_USER)[0]
    token_name = f"jobs-throughput-{os.getpid()}"
    first_pk = (Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    first_notification_pk = (
        Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ) + 1
    if options.no_owner:
        owners = [None]
    else:
        owners = [
            get_user_model().objects.get_or_create(username=f"benchmark-owner-{index}")[0]
            for index in range(max(options.owners, 1))
        ]
    try:
        cluster = start([python, "manage.py", "qcluster"], env, logs / "qcluster.log")
        processes.append(cluster)
        print(f"qcluster ({options.workers} workers) started; warming up", file=sys.stderr)
        measure_tracked(50, owners)
        measure_bare(50, connection)

        whose = "without an owner" if owners == [None] else f"owned by {len(owners)} users"
        print(f"tracked: {options.jobs} diagnostics.noop jobs {whose}", file=sys.stderr)
        tracked = measure_tracked(options.jobs, owners)
        print(f"bare: {options.jobs} async_task no-ops", file=sys.stderr)
        bare = measure_bare(options.jobs, connection)
        print(f"tracked drain: {options.jobs} jobs enqueued in one transaction", file=sys.stderr)
        drain = measure_tracked_drain(options.jobs, owners)

        out = io.StringIO()
        call_command("create_api_token", BENCH_USER, "--name", token_name, stdout=out, stderr=io.StringIO())
        token = out.getvalue().strip()
        port = free_port()
        gunicorn = start(
            [str(Path(python).parent / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.conf.py"],
            {
                **env,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": "2",
                "GUNICORN_ACCESSLOG": "/dev/null",
            },
            logs / "gunicorn.log",
        )
        processes.append(gunicorn)

        def healthy() -> bool:
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
            return False

        wait_until(healthy, timeout=60, what="gunicorn", every=0.1)
        print(f"API: {options.api_requests} POST /api/jobs", file=sys.stderr)
        api = measure_api(port, token, options.api_requests)
        in_process = measure_enqueue_in_process(options.api_requests, user)
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
        deleted, _ = Job.objects.filter(pk__gte=first_pk, kind="diagnostics.noop").delete()
        Notification.objects.filter(
            pk__gte=first_notification_pk, recipient__username__startswith="benchmark-"
        ).delete()
        ApiToken.objects.filter(user=user, name=token_name).delete()
        print(f"cleaned up {deleted} rows; process logs in {logs}", file=sys.stderr)

    ratio = tracked["rate"] / bare["rate"]
    api_p50 = statistics.median(api)
    tracked_ok = "ok" if ratio >= TRACKED_TARGET_RATIO else "MISSED"
    api_ok = "ok" if api_p50 <= API_P50_TARGET_MS else "MISSED"
    rows = [
        ("tracked jobs/s (first enqueue -> last finished)", f"{tracked['rate']:,.0f}", "", ""),
        ("bare async_task no-ops/s (same span)", f"{bare['rate']:,.0f}", "", ""),
        ("tracked / bare", f"{ratio:.2f}", f">= {TRACKED_TARGET_RATIO:.2f}", tracked_ok),
        (
            "tracked jobs/s, enqueued in one transaction (worker side)",
            f"{drain['rate']:,.0f}",
            "",
            "",
        ),
        ("  / bare", f"{drain['rate'] / bare['rate']:.2f}", "", ""),
        ("enqueue rate, tracked (services.enqueue)", f"{tracked['enqueue_rate']:,.0f}/s", "", ""),
        ("enqueue rate, bare (async_task)", f"{bare['enqueue_rate']:,.0f}/s", "", ""),
        ("API POST /api/jobs p50", f"{api_p50:.2f} ms", f"<= {API_P50_TARGET_MS:g} ms", api_ok),
        ("API POST /api/jobs p99", f"{percentile(api, 0.99):.2f} ms", "", ""),
        ("services.enqueue in-process p50", f"{statistics.median(in_process):.2f} ms", "", ""),
        ("services.enqueue in-process p99", f"{percentile(in_process, 0.99):.2f} ms", "", ""),
    ]
    print()
    if owners != [None]:
        whose += " (each end notifies its owner)"
    print(
        f"Tempo jobs: {options.jobs:,} jobs {whose}, "
        f"{options.workers} workers, PostgreSQL + Redis, "
        f"{os.cpu_count()} CPUs; API: {options.api_requests} requests, 2 gunicorn workers"
    )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("measurement", "figure", "target", "")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
