"""The scaling curve of a load-test run and the capacity model drawn from it.

loadtest/run.sh (CURVE="1,2,4") runs a short capacity search against one gunicorn with
N workers pinned to CPUs with taskset, and leaves per N: curve-N-steps.json (the
search), curve-N-cpu.json (CPU seconds of the servers and of the database's backends,
and the pinning) and curve-N-steps_stats.csv (Locust's totals). loadtest/check_slo.py
reads them through ``curve_points``, writes the table (``curve_lines``), the chart
(``curve_svg``: requests/s and users within the p95 objective against processes) and
the model (``capacity_model``). Plain Python: no Django, no chart library.
"""

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path


def _total_requests(path: Path) -> int | None:
    if not path.exists():
        return None
    rows = csv.DictReader(path.open())
    total = next((row for row in rows if row["Name"] == "Aggregated"), None)
    return int(total["Request Count"]) if total else None


def curve_points(run: Path, capacity: Callable[[Path, str], dict | None]) -> list[dict]:
    """One point per process count that was run, in order: capacity, peak requests/s, CPU."""
    points = []
    for path in sorted(run.glob("curve-*-cpu.json"), key=lambda p: int(p.name.split("-")[1])):
        name = path.name.removesuffix("-cpu.json")
        usage = json.loads(path.read_text())
        search = capacity(run, name)
        if search is None:
            continue
        good = search["capacity_users"]
        requests = _total_requests(run / f"{name}-steps_stats.csv")

        def per_request(seconds: float | None, requests: int | None = requests) -> float | None:
            return 1000 * seconds / requests if requests and seconds is not None else None

        points.append(
            {
                "processes": int(usage["processes"]),
                "server_cpus": str(usage.get("server_cpus", "")),
                "locust_cpu": str(usage.get("locust_cpu", "")),
                "users": search["capacity_users_interpolated"] or search["capacity_users"],
                "users_at_least": search["capacity_users_interpolated"] is None,
                "rps": max((step["rps"] for step in search["steps"]), default=0.0),
                # Requests per user and second within the objective (think times: below one).
                "rate": next(
                    (step["rps"] / step["users"] for step in search["steps"] if step["users"] == good), None
                ),
                "cpu_ms_per_request": per_request(usage.get("cpu_seconds")),
                "db_cpu_ms_per_request": per_request(usage.get("db_cpu_seconds")),
            }
        )
    return points


def curve_lines(points: list[dict]) -> list[str]:
    """The curve as a Markdown table."""
    lines = [
        "| web processes | server CPUs | Locust CPU | users at p95 < 500 ms | peak requests/s "
        "| server CPU / request (ms) | DB CPU / request (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for point in points:
        users = f"{'≥ ' if point['users_at_least'] else ''}{point['users']:.0f}"
        cpu, db = (
            f"{point[key]:.2f}" if point[key] is not None else "-"
            for key in ("cpu_ms_per_request", "db_cpu_ms_per_request")
        )
        lines.append(
            f"| {point['processes']} | {point['server_cpus']} | {point['locust_cpu']} | {users} "
            f"| {point['rps']:.1f} | {cpu} | {db} |"
        )
    return lines


def _panel(points: list[dict], key: str, title: str, left: float, color: str) -> str:
    """One line chart (x: processes, y: ``key`` from 0), 280 x 200 at ``left``."""
    width, height, pad = 280.0, 200.0, 36.0
    bottom = height - pad
    top = max((point[key] for point in points), default=0) * 1.15 or 1.0
    most = max(point["processes"] for point in points)

    def xy(point: dict) -> tuple[float, float]:
        x = left + pad + (point["processes"] / most) * (width - 2 * pad)
        return x, height - pad - (point[key] / top) * (height - 2 * pad)

    parts = [
        f'<text x="{left + width / 2:.0f}" y="16" text-anchor="middle" font-size="13">{title}</text>',
        f'<line x1="{left + pad}" y1="{bottom}" x2="{left + width - pad}" y2="{bottom}" stroke="#888"/>',
        f'<line x1="{left + pad}" y1="{pad}" x2="{left + pad}" y2="{bottom}" stroke="#888"/>',
        f'<text x="{left + pad - 4}" y="{pad + 4}" text-anchor="end" font-size="10">{top:.0f}</text>',
        f'<text x="{left + pad - 4}" y="{height - pad + 4}" text-anchor="end" font-size="10">0</text>',
        f'<text x="{left + width / 2:.0f}" y="{height - 6}" text-anchor="middle" font-size="11">'
        "web processes</text>",
    ]
    coordinates = [xy(point) for point in points]
    parts.append(
        f'<polyline fill="none" stroke="{color}" stroke-width="2" '
        f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)}"/>'
    )
    for point, (x, y) in zip(points, coordinates, strict=True):
        parts += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>',
            f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" font-size="10">{point[key]:.0f}</text>',
            f'<text x="{x:.1f}" y="{height - pad + 14:.1f}" text-anchor="middle" font-size="10">'
            f"{point['processes']}</text>",
        ]
    return "".join(parts)


def curve_svg(points: list[dict]) -> str:
    """Two panels: peak requests/s and users within the objective, against web processes."""
    body = _panel(points, "rps", "peak requests/s", 0, "#2563eb") + _panel(
        points, "users", "users at p95 &lt; 500 ms", 290, "#dc2626"
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="570" height="200" viewBox="0 0 570 200" '
        f'font-family="sans-serif" role="img" aria-label="scaling curve">{body}</svg>\n'
    )


def capacity_model(
    points: list[dict], *, before_users: float | None, host_cpus: int, target_ratio: float
) -> dict | None:
    """Users per web process and per host, and how many hosts give ``target_ratio`` x the
    before system's users, on paper: web processes scale out with hosts (the curve's
    largest point, per process), the database is not the limit (replicas take reads).
    None without a curve or a before capacity."""
    if not points or not before_users:
        return None
    largest = max(points, key=lambda point: point["processes"])
    # A host's capacity: the curve's best point (its processes on this machine's CPUs).
    best = max(points, key=lambda point: point["users"])
    target = target_ratio * before_users
    db_ms, rate = best["db_cpu_ms_per_request"], best["rate"]
    return {
        "users_per_process": largest["users"] / largest["processes"],
        "users_per_host": best["users"],
        "host_cpus": host_cpus,
        "rps_per_host": best["rps"],
        "target_users": target,
        "hosts": math.ceil(target / best["users"]) if best["users"] else None,
        "db_cpu_ms_per_request": db_ms,
        # Users one database CPU serves (a replica of N CPUs: N times as many).
        "users_per_db_cpu": 1000 / (db_ms * rate) if db_ms and rate else None,
    }
