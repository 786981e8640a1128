"""Evaluate a load-test run (loadtest/run.sh) against Tempo's service-level objectives.

    python loadtest/check_slo.py loadtest/results/<run>

Reads Locust's <mode>_stats.csv and <mode>-cpu.json for the modes "optimized" (caching
and replica routing on) and "baseline" (both off), writes report.md and report.json in
the run directory, prints the report, and exits 1 if an objective of the optimized run
is missed. Objectives (issue 6):
  - p95 < 500 ms and no failed request at the run's user count;
  - average response time at least 60% lower than the baseline's;
  - at least 5x the users at the same p95: from the capacity searches (<mode>-steps.json,
    when run.sh ran them), the most users each mode served with p95 under 500 ms and no
    failure, compared;
  - CPU seconds per request of the server processes (reported, compared).
"""

import csv
import json
import sys
from pathlib import Path

P95_LIMIT_MS = 500.0
AVERAGE_REDUCTION_TARGET = 0.60
CAPACITY_RATIO_TARGET = 5.0


def capacity(run: Path, mode: str) -> dict | None:
    """The capacity search of a mode: its steps, and the most users served within the objective."""
    path = run / f"{mode}-steps.json"
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    # Capacity: the last step of the unbroken run of good steps from the first, and where
    # p95 crosses the limit between it and the next step (linear interpolation), which
    # step sizes of 100 users would otherwise hide.
    limit = result["p95_limit_ms"]
    good, crossing = None, None
    for step in result["steps"]:
        if not step["failures"] and step["p95_ms"] is not None and step["p95_ms"] < limit:
            good = step
            continue
        if good and not step["failures"] and step["p95_ms"] is not None:
            share = (limit - good["p95_ms"]) / (step["p95_ms"] - good["p95_ms"])
            crossing = good["users"] + share * (step["users"] - good["users"])
        break
    best = good["users"] if good else 0
    result["capacity_users"] = best
    result["capacity_users_interpolated"] = crossing
    result["searched_to"] = max((step["users"] for step in result["steps"]), default=0)
    return result


def aggregated(run: Path, mode: str) -> dict | None:
    stats = run / f"{mode}_stats.csv"
    if not stats.exists():
        return None
    rows = list(csv.DictReader(stats.open()))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    cpu = json.loads((run / f"{mode}-cpu.json").read_text())
    requests = int(total["Request Count"])
    return {
        "requests": requests,
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "average_ms": float(total["Average Response Time"]),
        "median_ms": float(total["Median Response Time"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        "cpu_seconds": cpu["cpu_seconds"],
        "cpu_ms_per_request": 1000 * cpu["cpu_seconds"] / requests if requests else None,
        "users": cpu["users"],
        "duration": cpu["duration"],
        "replica": cpu.get("replica") or "none",
        "endpoints": [
            {
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "average_ms": float(row["Average Response Time"]),
                "p95_ms": float(row["95%"]),
            }
            for row in rows
            if row["Name"] != "Aggregated"
        ],
    }


def modes(optimized: dict | None, baseline: dict | None) -> tuple:
    return (("optimized", optimized), ("baseline", baseline))


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def main(run: Path) -> int:
    optimized = aggregated(run, "optimized")
    baseline = aggregated(run, "baseline")
    if optimized is None and baseline is None:
        print(f"No results in {run}", file=sys.stderr)
        return 2
    lines = [f"# Load test {run.name}", ""]
    checks: list[tuple[str, bool | None, str]] = []
    main_run = optimized or baseline
    lines += [
        "| | "
        + " | ".join(name for name, result in (("optimized", optimized), ("baseline", baseline)) if result)
        + " |",
        "| --- |" + " --- |" * sum(1 for result in (optimized, baseline) if result),
    ]
    for label, key, fmt in (
        ("users", "users", "{}"),
        ("duration", "duration", "{}"),
        ("replica", "replica", "{}"),
        ("requests", "requests", "{:,}"),
        ("failed requests", "failures", "{:,}"),
        ("requests/s", "rps", "{:.1f}"),
        ("average (ms)", "average_ms", "{:.1f}"),
        ("median (ms)", "median_ms", "{:.0f}"),
        ("p95 (ms)", "p95_ms", "{:.0f}"),
        ("p99 (ms)", "p99_ms", "{:.0f}"),
        ("server CPU (s)", "cpu_seconds", "{:.1f}"),
        ("server CPU per request (ms)", "cpu_ms_per_request", "{:.2f}"),
    ):
        values = [fmt.format(result[key]) for result in (optimized, baseline) if result]
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    lines.append("")
    checks.append(
        (
            f"p95 < {P95_LIMIT_MS:.0f} ms at {main_run['users']} users",
            main_run["p95_ms"] < P95_LIMIT_MS,
            f"{main_run['p95_ms']:.0f} ms",
        )
    )
    checks.append(("no failed request", main_run["failures"] == 0, f"{main_run['failures']} failed"))
    if optimized and baseline:
        reduction = 1 - optimized["average_ms"] / baseline["average_ms"] if baseline["average_ms"] else 0.0
        checks.append(
            (
                f"average response time >= {AVERAGE_REDUCTION_TARGET:.0%} lower than the baseline",
                reduction >= AVERAGE_REDUCTION_TARGET,
                f"{reduction:.0%} lower ({optimized['average_ms']:.1f} vs {baseline['average_ms']:.1f} ms)",
            )
        )
        checks.append(
            (
                "requests/s compared with the baseline",
                None,
                f"{optimized['rps']:.1f} vs {baseline['rps']:.1f}",
            )
        )
        if optimized["cpu_ms_per_request"] and baseline["cpu_ms_per_request"]:
            checks.append(
                (
                    "server CPU per request compared with the baseline",
                    None,
                    f"{optimized['cpu_ms_per_request']:.2f} vs {baseline['cpu_ms_per_request']:.2f} ms",
                )
            )
    searches = {name: capacity(run, name) for name in ("optimized", "baseline")}
    for name, search in searches.items():
        if search is None:
            continue
        lines += [
            f"Capacity search ({name}, {search['step_seconds']:.0f} s per step):",
            "",
            "| users | requests/s | average (ms) | p95 (ms) | failed |",
            "| --- | --- | --- | --- | --- |",
        ]
        for step in search["steps"]:
            average = f"{step['average_ms']:.1f}" if step["average_ms"] is not None else "-"
            p95 = f"{step['p95_ms']:.0f}" if step["p95_ms"] is not None else "-"
            lines.append(f"| {step['users']} | {step['rps']:.1f} | {average} | {p95} | {step['failures']} |")
        lines.append("")
    if searches["optimized"] and searches["baseline"]:
        optimized_users, baseline_users = (
            searches[name]["capacity_users_interpolated"] or searches[name]["capacity_users"]
            for name in ("optimized", "baseline")
        )
        ratio = optimized_users / baseline_users if baseline_users else None
        bound = ""
        if searches["optimized"]["capacity_users_interpolated"] is None:
            bound = " (optimized: at least, the search ended within the objective)"
        checks.append(
            (
                f"users with p95 < {P95_LIMIT_MS:.0f} ms >= {CAPACITY_RATIO_TARGET:.0f}x the baseline's",
                ratio is not None and ratio >= CAPACITY_RATIO_TARGET,
                f"{optimized_users:.0f} vs {baseline_users:.0f} users{bound}"
                + (f": {ratio:.2f}x" if ratio else ""),
            )
        )
    lines += ["| objective | result | measured |", "| --- | --- | --- |"]
    for name, ok, measured in checks:
        lines.append(f"| {name} | {'reported' if ok is None else verdict(ok)} | {measured} |")
    lines += ["", "Endpoints (" + ("optimized" if optimized else "baseline") + "):", ""]
    lines += ["| endpoint | requests | failed | average (ms) | p95 (ms) |", "| --- | --- | --- | --- | --- |"]
    for row in main_run["endpoints"]:
        lines.append(
            f"| {row['name']} | {row['requests']:,} | {row['failures']} "
            f"| {row['average_ms']:.1f} | {row['p95_ms']:.0f} |"
        )
    report = "\n".join(lines) + "\n"
    (run / "report.md").write_text(report)
    (run / "report.json").write_text(
        json.dumps(
            {"optimized": optimized, "baseline": baseline, "capacity": searches, "checks": checks}, indent=2
        )
    )
    print(report)
    missed = [name for name, ok, _ in checks[:2] if ok is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
