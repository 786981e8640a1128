"""The API part of benchmarks/jobs_throughput.py (``--api-requests``): POST /api/jobs with a
Bearer token (manage.py create_api_token) against a gunicorn on 127.0.0.1, one request at
a time (p50/p99 of the client-side latency), and services.enqueue in-process, to tell HTTP
from the enqueue itself."""

import contextlib
import http.client
import io
import json
import sys
import time
from pathlib import Path

from benchmarks.jobs_throughput import BENCH_USER, free_port, start, wait_until


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


def measure_api_and_enqueue(requests: int, user, token_name: str, env: dict, logs: Path, processes: list):
    """POST /api/jobs latencies over HTTP (a gunicorn started here), then services.enqueue's."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("create_api_token", BENCH_USER, "--name", token_name, stdout=out, stderr=io.StringIO())
    token = out.getvalue().strip()
    port = free_port()
    gunicorn = start(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.conf.py"],
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
    print(f"API: {requests} POST /api/jobs", file=sys.stderr)
    return measure_api(port, token, requests), measure_enqueue_in_process(requests, user)
