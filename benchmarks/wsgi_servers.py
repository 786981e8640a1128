"""WSGI servers compared in one run: server CPU per request and requests/s at p95 < 50 ms.

Usage (TPC-H data loaded; PostgreSQL + Redis as in production; Debian's wrk and taskset):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_xd REDIS_URL=redis://127.0.0.1:6379/7 \\
    .venv/bin/python benchmarks/wsgi_servers.py [--processes 2] [--seconds 10] [--rounds 2] \\
        [--connections 2,4,8,16,32] [--servers gunicorn-sync,gunicorn-gthread,granian] [--port 8200]

Each server runs the project's WSGI application with the same number of processes on
loopback, pinned to the last CPU (``taskset``), with wrk pinned to the first. wrk sends
the load test's read mix (``request_cpu.MIX``: session and token requests, ETags) at
each connection count for ``--seconds``, after a warm-up. A server's CPU is the user +
system time of its whole process group (``/proc/<pid>/stat``), so the master, workers
and threads count; no access log on any server. Servers run in turn, ``--rounds`` times,
and each is stopped by its process group.

Per server: CPU per request (ms) over all steps, and the highest requests/s among the
steps whose p95 stayed under 50 ms.
"""

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import in_process  # noqa: F401  (sets Django up)
from django.conf import settings
from django.contrib.auth import get_user_model
from request_cpu import MIX, calls

from apps.core.services import api_token_create
from apps.core.session_users import session_issue

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
P95_LIMIT_MS = 50.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Lua for wrk: the requests are pre-formatted once per thread and sent in turn; done()
# prints what the run measured as one JSON line.
WRK_SCRIPT = """
local requests = {}
local n = 0
init = function(args)
  for line in io.lines("%(paths)s") do
    local path, header = line:match("^(%%S+)\\t(.*)$")
    local name, value = header:match("^([^:]+): (.*)$")
    requests[#requests + 1] = wrk.format("GET", path, {[name] = value, Host = "127.0.0.1"})
  end
end
request = function()
  n = n + 1
  return requests[(n %% #requests) + 1]
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('WRK {"requests": %%d, "seconds": %%f, "p95_ms": %%f, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(95) / 1000, errors))
end
"""


def servers(processes: int, port: int) -> dict[str, list[str]]:
    app = "config.wsgi"
    # No config file: config/gunicorn.conf.py always writes an access log (granian's is off).
    gunicorn = [str(VENV / "gunicorn"), app, "--bind", f"127.0.0.1:{port}", "--no-control-socket"]
    gunicorn += ["--workers", str(processes), "--keep-alive", "5", "--log-level", "warning"]
    return {
        "gunicorn-sync": [*gunicorn, "--threads", "1"],
        "gunicorn-gthread": [*gunicorn, "--threads", "4"],
        "granian": [
            str(VENV / "granian"), "--interface", "wsgi", f"{app}:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(processes),
            "--no-access-log", "--log-level", "warning",
        ],
    }  # fmt: skip


def request_lines(session: str, token: str) -> list[str]:
    """The mix as 'path<TAB>header' lines, each endpoint as often as its share."""
    lines = []
    for endpoint, batch in calls(50).items():
        share = round(MIX[endpoint] / min(MIX.values()))
        for call in batch[: 5 * share]:
            query = call.query.replace("&cursor=", "") if call.query.endswith("cursor=") else call.query
            path = call.path + (f"?{query}" if query else "")
            header = (
                f"Cookie: {settings.SESSION_COOKIE_NAME}={session}"
                if call.session
                else f"Authorization: Bearer {token}"
            )
            lines.append(f"{path}\t{header}")
    return lines


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the process group (threads included)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        # After the command: state ppid pgrp session ... utime (14th field) stime (15th).
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"wsgi_servers: the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"wsgi_servers: no answer on 127.0.0.1:{port} after {timeout} s")


def wrk(port: int, script: Path, connections: int, seconds: float, cpu: str) -> dict:
    command = ["taskset", "-c", cpu, "wrk", "-t", "1", "-c", str(connections), "-d", f"{int(seconds)}s"]
    command += ["--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK ")), None)
    if line is None:  # no request finished (a cold worker), or wrk failed
        return {"requests": 0, "seconds": seconds, "p95_ms": float("inf"), "errors": 0, "wrk": done.stderr}
    return json.loads(line[4:])


def run_server(name: str, command: list[str], args, script: Path, env: dict, log) -> dict:
    cpus = os.cpu_count() or 1
    server_cpu, load_cpu = str(cpus - 1), "0"
    process = subprocess.Popen(
        ["taskset", "-c", server_cpu, *command],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(args.port, process)
        # Every worker answers a few requests first (imports, connections, templates, caches).
        for _ in range(10):
            warm = wrk(args.port, script, 4, args.warmup, load_cpu)
            if warm["requests"] >= 50:
                break
        else:
            log.flush()
            sys.exit(
                f"wsgi_servers: {name} answered {warm['requests']} requests in the warm-up: {warm}; "
                f"its log: {Path(log.name).read_text()[-2000:]}"
            )
        steps = []
        for connections in args.connections:
            before = group_cpu_seconds(process.pid)
            result = wrk(args.port, script, connections, args.seconds, load_cpu)
            result["cpu_seconds"] = group_cpu_seconds(process.pid) - before
            result["connections"] = connections
            steps.append(result)
        return {"server": name, "steps": steps}
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """The server's whole process group (it was started in a session of its own)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def summary(runs: list[dict]) -> tuple[float, float, int]:
    """CPU per request (ms, median over rounds), best req/s with p95 < 50 ms (median), errors."""
    cpu, best, errors = [], [], 0
    for run in runs:
        requests = sum(step["requests"] for step in run["steps"])
        cpu.append(sum(step["cpu_seconds"] for step in run["steps"]) / max(requests, 1) * 1000)
        fast = [step["requests"] / step["seconds"] for step in run["steps"] if step["p95_ms"] < P95_LIMIT_MS]
        best.append(max(fast, default=0.0))
        errors += sum(step["errors"] for step in run["steps"])
    return statistics.median(cpu), statistics.median(best), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="Worker processes of every server.")
    parser.add_argument("--seconds", type=int, default=10, help="Seconds per connection count.")
    parser.add_argument("--warmup", type=int, default=5, help="Seconds of warm-up per server start.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds of all servers, alternating.")
    parser.add_argument("--connections", default="2,4,8,16,32", help="Connection counts (steps).")
    parser.add_argument("--servers", default="gunicorn-sync,gunicorn-gthread,granian")
    parser.add_argument("--port", type=int, default=8200)
    args = parser.parse_args()
    # A SIGTERM (timeout, Ctrl-C's cousin) unwinds through the finally that stops the server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"wsgi_servers: signal {signum}"))
    args.connections = [int(count) for count in args.connections.split(",")]
    commands = servers(args.processes, args.port)
    chosen = [name for name in args.servers.split(",") if name]
    unknown = set(chosen) - set(commands)
    if unknown:
        sys.exit(f"wsgi_servers: unknown servers {sorted(unknown)}; choose from {sorted(commands)}")

    user, _ = get_user_model().objects.get_or_create(username="benchmark-wsgi-servers")
    _, token = api_token_create(user=user, name="wsgi_servers benchmark")
    env = {
        **os.environ,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": settings.SECRET_KEY,
        "SESSION_COOKIE_SECURE": "0",
        "LOG_LEVEL": "warning",
    }
    with tempfile.TemporaryDirectory(prefix="wsgi-servers-") as folder:
        paths = Path(folder) / "requests.tsv"
        paths.write_text("\n".join(request_lines(session_issue(user=user), token)) + "\n")
        script = Path(folder) / "mix.lua"
        script.write_text(WRK_SCRIPT % {"paths": paths})
        results: dict[str, list[dict]] = {name: [] for name in chosen}
        for _ in range(args.rounds):
            for name in chosen:
                with (Path(folder) / f"{name}.log").open("a") as log:
                    run = run_server(name, commands[name], args, script, env, log)
                results[name].append(run)
                for step in run["steps"]:
                    rate = step["requests"] / step["seconds"]
                    cpu = step["cpu_seconds"] / max(step["requests"], 1) * 1000
                    p95 = step["p95_ms"]
                    print(
                        f"  {name:17} c={step['connections']:<3} {rate:7.0f} req/s p95 {p95:6.1f} ms"
                        f"  CPU {cpu:5.2f} ms/req  errors {step['errors']}",
                        flush=True,
                    )
    print(
        f"\n{args.processes} processes per server, medians of {args.rounds} rounds; "
        f"steps of {args.seconds:g} s at {args.connections} connections"
    )
    print(f"{'server':18} {'CPU ms/request':>15} {'req/s p95<50ms':>15} {'errors':>7}")
    for name in chosen:
        cpu, best, errors = summary(results[name])
        print(f"{name:18} {cpu:15.2f} {best:15.0f} {errors:7d}")


if __name__ == "__main__":
    main()
