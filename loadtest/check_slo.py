"""Evaluate a load-test run (loadtest/run.sh) against Tempo's objectives and the plan's criteria.

    python loadtest/check_slo.py loadtest/results/<run>

Reads Locust's <mode>_stats.csv and <mode>-cpu.json for the modes "optimized" (caching
and replica routing on, reports as jobs), "baseline" (both off) and "before" (the system
before this phase: reports inside the request, one server), writes report.md,
report.json and (with a scaling curve) curve.svg in the run directory, prints the
report, and exits 1 if an objective of the optimized run is missed:
  - p95 < 500 ms and no failed request at the run's user count.
The plan's criteria compare the optimized run with "before" and with "baseline", each
MET or NOT MET with its figures:
  - users with p95 < 500 ms: 5x (the capacity searches, <mode>-steps.json);
  - average response time at USERS: 60% lower;
  - server CPU per request at USERS: 40% lower.
All three are measured on this machine; the capacity model (loadtest/curve.py, from the
scaling curve) says what the 5x takes on paper, and is labelled so.
"""

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from curve import capacity_model, curve_lines, curve_points, curve_svg

P95_LIMIT_MS = 500.0
AVERAGE_REDUCTION_TARGET = 0.60
CAPACITY_RATIO_TARGET = 5.0
CPU_REDUCTION_TARGET = 0.40
MODES = ("optimized", "baseline", "before")
# How a reference mode is named in a criterion.
REFERENCES = {"before": "before-phase system", "baseline": "baseline"}


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
    # Not even the first step within the objective: the capacity is below it.
    result["below_first_step"] = good is None and bool(result["steps"])
    return result


def aggregated(run: Path, mode: str) -> dict | None:
    stats = run / f"{mode}_stats.csv"
    if not stats.exists():
        return None
    rows = list(csv.DictReader(stats.open()))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    cpu = json.loads((run / f"{mode}-cpu.json").read_text())
    requests = int(total["Request Count"])
    db_seconds = cpu.get("db_cpu_seconds")
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
        "db_cpu_seconds": db_seconds,
        "db_cpu_ms_per_request": 1000 * db_seconds / requests
        if requests and db_seconds is not None
        else None,
        "users": cpu["users"],
        "duration": cpu["duration"],
        "replica": cpu.get("replica") or "none",
        "servers": cpu.get("servers", "2 x 3"),
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


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def lower(reduction: float) -> str:
    """A reduction as said: "60% lower", or "33% higher" when it grew."""
    return f"{reduction:.0%} lower" if reduction >= 0 else f"{-reduction:.0%} higher"


def capacity_users(search: dict) -> float:
    """Users within the objective: where p95 crosses it if seen, else the last good step."""
    return search["capacity_users_interpolated"] or search["capacity_users"]


def criteria(results: dict[str, dict | None], searches: dict[str, dict | None]) -> list[dict]:
    """The plan's three criteria, optimized against each reference mode that was run.

    Each: name, reference, ok (None when it cannot be decided), measured (the figures as
    text) and basis ("measured": both sides ran on this machine).
    """
    optimized, found = results.get("optimized"), []
    for reference, label in REFERENCES.items():
        other = results.get(reference)
        ours, theirs = searches.get("optimized"), searches.get(reference)
        if ours and theirs:
            found.append(_capacity_criterion(ours, theirs, reference, label))
        if not (optimized and other):
            continue
        reduction = 1 - optimized["average_ms"] / other["average_ms"] if other["average_ms"] else 0.0
        found.append(
            {
                "name": f"average response time >= {AVERAGE_REDUCTION_TARGET:.0%} lower than the {label}",
                "reference": reference,
                "ok": reduction >= AVERAGE_REDUCTION_TARGET,
                "measured": f"{lower(reduction)} ({optimized['average_ms']:.1f} vs "
                f"{other['average_ms']:.1f} ms at {optimized['users']} users)",
                "basis": "measured",
            }
        )
        ours_cpu, theirs_cpu = optimized["cpu_ms_per_request"], other["cpu_ms_per_request"]
        if ours_cpu is None or not theirs_cpu:
            continue
        reduction = 1 - ours_cpu / theirs_cpu
        found.append(
            {
                "name": f"server CPU per request >= {CPU_REDUCTION_TARGET:.0%} lower than the {label}",
                "reference": reference,
                "ok": reduction >= CPU_REDUCTION_TARGET,
                "measured": f"{lower(reduction)} ({ours_cpu:.2f} vs {theirs_cpu:.2f} ms)",
                "basis": "measured",
            }
        )
    return found


def _capacity_criterion(ours: dict, theirs: dict, reference: str, label: str) -> dict:
    optimized_users, reference_users = capacity_users(ours), capacity_users(theirs)
    notes = []
    if ours["capacity_users_interpolated"] is None and not ours["below_first_step"]:
        notes.append("optimized: at least, the search ended within the objective")
    if theirs["below_first_step"]:
        # Below the first step: the ratio to that step is a lower bound.
        reference_users = theirs["steps"][0]["users"]
        notes.append(f"{reference}: below its first step, {reference_users} users; the ratio is at least")
    ratio = optimized_users / reference_users if reference_users else None
    ok = ratio is not None and ratio >= CAPACITY_RATIO_TARGET
    if ratio is not None and not ok and theirs["below_first_step"]:
        ok = None
    return {
        "name": f"users with p95 < {P95_LIMIT_MS:.0f} ms >= {CAPACITY_RATIO_TARGET:.0f}x the {label}'s",
        "reference": reference,
        "ok": ok,
        "measured": f"{optimized_users:.0f} vs {reference_users:.0f} users"
        + (f" ({'; '.join(notes)})" if notes else "")
        + (f": {ratio:.2f}x" if ratio else ""),
        "basis": "measured",
    }


def results_table(results: dict[str, dict | None]) -> list[str]:
    present = [(name, result) for name, result in results.items() if result]
    lines = ["| | " + " | ".join(name for name, _ in present) + " |", "| --- |" + " --- |" * len(present)]
    for label, key, fmt in (
        ("users", "users", "{}"),
        ("duration", "duration", "{}"),
        ("servers (instances x workers)", "servers", "{}"),
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
        ("database CPU per request (ms)", "db_cpu_ms_per_request", "{:.2f}"),
    ):
        values = [fmt.format(result[key]) if result[key] is not None else "-" for _, result in present]
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    return [*lines, ""]


def search_lines(name: str, search: dict) -> list[str]:
    lines = [
        f"Capacity search ({name}, {search['step_seconds']:.0f} s per step):",
        "",
        "| users | requests/s | average (ms) | p95 (ms) | failed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in search["steps"]:
        average = f"{step['average_ms']:.1f}" if step["average_ms"] is not None else "-"
        p95 = f"{step['p95_ms']:.0f}" if step["p95_ms"] is not None else "-"
        lines.append(f"| {step['users']} | {step['rps']:.1f} | {average} | {p95} | {step['failures']} |")
    return [*lines, ""]


def model_lines(model: dict) -> list[str]:
    users_per_db_cpu = model["users_per_db_cpu"]
    return [
        "Capacity model (on paper, from the scaling curve; not measured as a whole):",
        "",
        f"- one web process: {model['users_per_process']:.0f} users within the objective; one host "
        f"of {model['host_cpus']} CPUs: {model['users_per_host']:.0f} users, "
        f"{model['rps_per_host']:.0f} requests/s",
        f"- {CAPACITY_RATIO_TARGET:.0f}x the before-phase system's users is "
        f"{model['target_users']:.0f} users: {model['hosts']} such web hosts, if the database keeps up",
        "- database: "
        + (
            f"{model['db_cpu_ms_per_request']:.2f} ms of CPU per request, about {users_per_db_cpu:.0f} users "
            "per database CPU (a replica of N CPUs: N times as many; writes stay on the primary)"
            if users_per_db_cpu
            else "CPU per request not measured"
        ),
        "",
    ]


def main(run: Path) -> int:
    results = {name: aggregated(run, name) for name in MODES}
    if not any(results.values()):
        print(f"No results in {run}", file=sys.stderr)
        return 2
    main_run = results["optimized"] or next(result for result in results.values() if result)
    lines = [f"# Load test {run.name}", "", *results_table(results)]
    checks: list[tuple[str, bool | None, str]] = [
        (
            f"p95 < {P95_LIMIT_MS:.0f} ms at {main_run['users']} users",
            main_run["p95_ms"] < P95_LIMIT_MS,
            f"{main_run['p95_ms']:.0f} ms",
        ),
        ("no failed request", main_run["failures"] == 0, f"{main_run['failures']} failed"),
    ]
    searches = {name: capacity(run, name) for name in MODES}
    for name, search in searches.items():
        if search is not None:
            lines += search_lines(name, search)
    found = criteria(results, searches)
    checks += [(item["name"], item["ok"], f"{item['measured']} ({item['basis']})") for item in found]
    lines += ["| objective | result | measured |", "| --- | --- | --- |"]
    for name, ok, measured in checks:
        lines.append(f"| {name} | {'undecided' if ok is None else verdict(ok)} | {measured} |")
    lines.append("")
    points = curve_points(run, capacity)
    model = None
    if points:
        lines += ["Scaling curve (optimized, one gunicorn, pinned with taskset; curve.svg):", ""]
        lines += [*curve_lines(points), ""]
        (run / "curve.svg").write_text(curve_svg(points))
        before = searches["before"]
        model = capacity_model(
            points,
            before_users=capacity_users(before) if before and not before["below_first_step"] else None,
            host_cpus=max(int(part) for point in points for part in point["server_cpus"].split("-")) + 1,
            target_ratio=CAPACITY_RATIO_TARGET,
        )
        if model:
            lines += model_lines(model)
    lines += ["Endpoints (" + ("optimized" if results["optimized"] else "first mode run") + "):", ""]
    lines += ["| endpoint | requests | failed | average (ms) | p95 (ms) |", "| --- | --- | --- | --- | --- |"]
    for row in main_run["endpoints"]:
        lines.append(
            f"| {row['name']} | {row['requests']:,} | {row['failures']} "
            f"| {row['average_ms']:.1f} | {row['p95_ms']:.0f} |"
        )
    report = "\n".join(lines) + "\n"
    (run / "report.md").write_text(report)
    summary = {**results, "capacity": searches, "checks": checks, "criteria": found, "curve": points}
    (run / "report.json").write_text(json.dumps({**summary, "model": model}, indent=2))
    print(report)
    missed = [name for name, ok, _ in checks[:2] if ok is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
