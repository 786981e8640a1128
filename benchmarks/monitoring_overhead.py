"""What the always-on request metrics cost: one endpoint, gunicorn, metrics on and off.

Usage (SQLite by default; PostgreSQL and Redis when set, and then the Redis contrast runs):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_mon REDIS_URL=redis://127.0.0.1:6379/4 \\
    .venv/bin/python benchmarks/monitoring_overhead.py [--seconds 4] [--rounds 6] [--connections 4]

1. Write a settings module per variant in a temporary directory, on top of config.settings,
   and a URLconf adding /bench/one-query (one indexed SELECT, a small text response):
   - off:   the site's middleware without RequestMetricsMiddleware (Silk's middleware stays,
            not recording, as deployed);
   - on:    the site as deployed: metrics on (in-process histograms, background flush);
   - silk:  metrics off, Silk recording every request with its default settings;
   - redis: metrics off, one Redis HINCRBY per request (what "just write each request to
            Redis" costs; only with REDIS_URL).
2. Start one gunicorn sync worker per variant on 127.0.0.1 (each in its own session, all
   stopped at the end, also on failure) and warm each up with wrk (Debian's `wrk`).
3. Run wrk against the variants in turn, --seconds each, for --rounds rounds, alternating
   the order: the load of a shared machine drifts over all variants alike. Print
   requests/s and p50/p99 per slice, each against "off" of the same round, and medians.
   Targets for "on": >= 97% of the throughput, <= 0.5 ms added at p50.
4. Then, in one process, the CPU time per request of Django's handler with metrics off
   and on, in alternating batches: a figure a busy machine disturbs much less.
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_TARGET = 0.97
P50_TARGET_MS = 0.5

SETTINGS = textwrap.dedent(
    """
    import os
    from config.settings import *  # noqa: F403

    VARIANT = os.environ["BENCH_VARIANT"]
    ROOT_URLCONF = "bench_urls"
    METRICS = "apps.monitoring.middleware.RequestMetricsMiddleware"
    if VARIANT != "on":
        MIDDLEWARE = [m for m in MIDDLEWARE if m != METRICS]
    if VARIANT == "silk":
        # Silk as it ships: every request recorded, its own cleanup sampling on.
        SILKY_INTERCEPT_FUNC = None
        SILKY_INTERCEPT_PERCENT = 100
        SILKY_MAX_RECORDED_REQUESTS_CHECK_PERCENT = 10
        SILKY_MAX_REQUEST_BODY_SIZE = -1
        SILKY_MAX_RESPONSE_BODY_SIZE = -1
    if VARIANT == "redis":
        MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
                          "bench_urls.RedisPerRequestMiddleware")
    """
)

URLS = textwrap.dedent(
    '''
    import os
    import time

    import redis
    from django.contrib.contenttypes.models import ContentType
    from django.http import HttpResponse
    from django.urls import path

    from config.urls import urlpatterns as site


    def one_query(request):
        found = ContentType.objects.filter(pk=1).values_list("model", flat=True).first()
        return HttpResponse(f"ok {found}", content_type="text/plain")


    class RedisPerRequestMiddleware:
        """The naive alternative: one Redis round trip per request."""

        def __init__(self, get_response):
            self.get_response = get_response
            self.client = redis.Redis.from_url(os.environ["REDIS_URL"])

        def __call__(self, request):
            start = time.perf_counter()
            response = self.get_response(request)
            self.client.hincrbyfloat("bench:requests", request.path, time.perf_counter() - start)
            return response


    urlpatterns = [path("bench/one-query", one_query), *site]
    '''
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def wait_until_up(url: str, process: subprocess.Popen, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            if response.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer {url} within {deadline}s")


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from wrk --latency."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def latency(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rate, latency("50"), latency("99")


class Server:
    """One gunicorn (one sync worker) for one variant, in its own session."""

    def __init__(self, variant: str, env: dict[str, str]) -> None:
        self.variant = variant
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/bench/one-query"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "1",
                "--no-control-socket", "--access-logfile", "/dev/null", "--error-logfile", "-",
                "--log-level", "warning",
            ],
            cwd=ROOT,
            env={**env, "BENCH_VARIANT": variant},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def cpu_per_request(batches: int, batch: int) -> None:
    """Child process: CPU time per request of Django's WSGI handler with metrics off and on.

    Both handlers serve the same request in turns (batches alternate), timed with the
    process's CPU clock, which the other processes of a busy machine disturb far less than
    wall time. Prints the median microseconds per request of each, and the difference.
    """
    import io

    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    django.setup()
    metrics = "apps.monitoring.middleware.RequestMetricsMiddleware"
    on_stack = list(settings.MIDDLEWARE)
    if metrics not in on_stack:
        on_stack.insert(on_stack.index("django.contrib.sessions.middleware.SessionMiddleware") + 1, metrics)
    handlers = {}
    for name, stack in (("off", [m for m in on_stack if m != metrics]), ("on", on_stack)):
        with override_settings(MIDDLEWARE=stack):
            handlers[name] = WSGIHandler()
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/bench/one-query", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1",
    }  # fmt: skip

    def start_response(status, headers, exc_info=None):
        assert status.startswith("200"), status

    timings: dict[str, list[float]] = {"off": [], "on": []}
    for number in range(batches):
        for name in ("off", "on") if number % 2 == 0 else ("on", "off"):
            handler = handlers[name]
            start = time.process_time()
            for _ in range(batch):
                b"".join(handler(dict(environ), start_response))
            timings[name].append((time.process_time() - start) / batch * 1e6)
    off, on = statistics.median(timings["off"]), statistics.median(timings["on"])
    print(f"CPU per request in-process (median of {batches} batches of {batch}): "
          f"off {off:.0f} us, on {on:.0f} us, "
          f"metrics add {on - off:+.0f} us ({on / off - 1:+.1%})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="Seconds per slice (default 4).")
    parser.add_argument("--rounds", type=int, default=6, help="Slices per variant (default 6).")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4).")
    parser.add_argument("--cpu-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu_child:
        cpu_per_request(batches=20, batch=200)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="tempo-mon-bench-"))
    try:
        (workdir / "bench_settings.py").write_text(SETTINGS)
        (workdir / "bench_urls.py").write_text(URLS)
        env = {
            **os.environ,
            "PYTHONPATH": f"{workdir}{os.pathsep}{ROOT}",
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-secret-key"),
            "LOG_LEVEL": "WARNING",
            "DB_POOL_MAX_SIZE": "2",
        }
        if not os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
        env["BENCH_VARIANT"] = "on"
        run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env)
        run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], env)

        variants = ["off", "on", "silk"] + (["redis"] if os.environ.get("REDIS_URL") else [])
        db = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
        print(f"GET /bench/one-query (1 query, {db}), 1 gunicorn sync worker per variant, "
              f"wrk -c{args.connections}, {args.seconds}s slices")  # fmt: skip
        header = f"{'round':>5}  {'variant':<6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        print(f"{header} {'vs off':>7} {'+p50 ms':>8}")
        results: dict[str, list[tuple[float, float, float]]] = {v: [] for v in variants}
        servers = {}
        try:
            # All servers run at once and take turns in short slices, so that the load of
            # a shared machine drifts over every variant alike.
            for variant in variants:
                servers[variant] = Server(variant, env)
            for server in servers.values():
                wait_until_up(server.url, server.process)
                wrk(server.url, 2, args.connections)  # warm-up: connections, caches, the flush thread
            for number in range(args.rounds):
                order = variants if number % 2 == 0 else list(reversed(variants))
                figures = {}
                for variant in order:
                    figures[variant] = wrk(servers[variant].url, args.seconds, args.connections)
                base_rate, base_p50, _ = figures["off"]
                for variant in variants:
                    rate, p50, p99 = figures[variant]
                    results[variant].append(figures[variant])
                    print(
                        f"{number + 1:>5}  {variant:<6} {rate:>9.0f} {p50:>8.2f} {p99:>8.2f} "
                        f"{rate / base_rate:>7.1%} {p50 - base_p50:>+8.2f}"
                    )
        finally:
            for server in servers.values():
                server.stop()
        print()
        off_rate = statistics.median(r for r, _, _ in results["off"])
        off_p50 = statistics.median(p for _, p, _ in results["off"])
        for variant in variants:
            rate = statistics.median(r for r, _, _ in results[variant])
            p50 = statistics.median(p for _, p, _ in results[variant])
            line = (
                f"median  {variant:<6} {rate:>9.0f} req/s  p50 {p50:.2f} ms  "
                f"{rate / off_rate:.1%} of off, {p50 - off_p50:+.2f} ms"
            )
            if variant == "on":
                ok = rate / off_rate >= THROUGHPUT_TARGET and p50 - off_p50 <= P50_TARGET_MS
                verdict = "met" if ok else "NOT met"
                line += f"  (target >= {THROUGHPUT_TARGET:.0%}, <= +{P50_TARGET_MS} ms: {verdict})"
            print(line)
        print()
        subprocess.run(
            [sys.executable, __file__, "--cpu-child"],
            cwd=ROOT,
            env={**env, "BENCH_VARIANT": "off"},
            check=True,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
