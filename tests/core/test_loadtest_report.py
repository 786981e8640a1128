"""loadtest/check_slo.py: the objectives of a load-test run, from Locust's files."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def script(name: str):
    """A loadtest/ script as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "loadtest" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def check_slo():
    return script("check_slo")


def write_run(
    run: Path,
    mode: str,
    *,
    average: float,
    p95: float,
    failures: int = 0,
    cpu: float = 0.5,
    db: float | None = None,
) -> None:
    header = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    header += "95%,99%,Requests/s\n"
    rows = [
        f"GET,/api/commerce/orders,100,{failures},{average},{average},{p95},{p95},10\n",
        f",Aggregated,100,{failures},{average},{average},{p95},{p95},10\n",
    ]
    (run / f"{mode}_stats.csv").write_text(header + "".join(rows))
    usage = {"cpu_seconds": cpu, "db_cpu_seconds": db, "users": 200, "duration": "60s"}
    (run / f"{mode}-cpu.json").write_text(json.dumps(usage))


def write_steps(
    run: Path, mode: str, p95s: list[float], failures: int = 0, users: list[int] | None = None
) -> None:
    users = users or [100 * (i + 1) for i in range(len(p95s))]
    steps = [
        {"users": users[i], "requests": 500, "failures": failures if i == 1 else 0, "rps": users[i] / 2,
         "average_ms": p95 / 2, "p95_ms": p95}
        for i, p95 in enumerate(p95s)
    ]  # fmt: skip
    (run / f"{mode}-steps.json").write_text(
        json.dumps({"p95_limit_ms": 500, "step_seconds": 30, "steps": steps})
    )


def objectives(run: Path) -> dict[str, bool | None]:
    report = json.loads((run / "report.json").read_text())
    return {name: ok for name, ok, _ in report["checks"]}


def test_capacity_is_the_last_step_before_the_first_one_over_the_objective(check_slo, tmp_path):
    write_run(tmp_path, "optimized", average=30, p95=100)
    write_run(tmp_path, "baseline", average=100, p95=300)
    # 300 users breaks the objective; 400 would pass again, but capacity ends at the break.
    write_steps(tmp_path, "optimized", [50, 120, 900, 300])
    write_steps(tmp_path, "baseline", [80, 700])
    assert check_slo.main(tmp_path) == 0
    optimized = check_slo.capacity(tmp_path, "optimized")
    assert optimized["capacity_users"] == 200
    # p95 120 ms at 200 users, 900 at 300: 500 ms is crossed at about 249 users.
    assert optimized["capacity_users_interpolated"] == pytest.approx(248.7, abs=0.1)
    assert check_slo.capacity(tmp_path, "baseline")["capacity_users_interpolated"] == pytest.approx(
        167.7, abs=0.1
    )
    checks = objectives(tmp_path)
    assert checks["users with p95 < 500 ms >= 5x the baseline's"] is False
    assert checks["average response time >= 60% lower than the baseline"] is True
    assert "249 vs 168 users: 1.48x" in (tmp_path / "report.md").read_text()


def test_a_step_with_failures_ends_the_capacity_and_a_slow_run_fails(check_slo, tmp_path):
    write_run(tmp_path, "optimized", average=300, p95=800)
    write_steps(tmp_path, "optimized", [50, 60, 70], failures=3)
    assert check_slo.main(tmp_path) == 1
    assert check_slo.capacity(tmp_path, "optimized")["capacity_users"] == 100
    # Failures are not a p95 to interpolate.
    assert check_slo.capacity(tmp_path, "optimized")["capacity_users_interpolated"] is None
    assert objectives(tmp_path)["p95 < 500 ms at 200 users"] is False


def test_the_three_criteria_against_the_before_system_and_the_baseline(check_slo, tmp_path):
    # CPU per request (100 requests): optimized 5 ms, baseline 6 ms, before 10 ms.
    write_run(tmp_path, "optimized", average=30, p95=100, cpu=0.5, db=0.2)
    write_run(tmp_path, "baseline", average=60, p95=200, cpu=0.6)
    write_run(tmp_path, "before", average=100, p95=400, cpu=1.0)
    write_steps(tmp_path, "optimized", [50, 100, 300, 700])  # crosses 500 ms at 350 users
    write_steps(tmp_path, "baseline", [80, 700])  # at 167
    write_steps(tmp_path, "before", [100, 300, 700], users=[20, 40, 60])  # at 50
    assert check_slo.main(tmp_path) == 0
    checks = objectives(tmp_path)
    assert checks["users with p95 < 500 ms >= 5x the before-phase system's"] is True
    assert checks["users with p95 < 500 ms >= 5x the baseline's"] is False
    assert checks["average response time >= 60% lower than the before-phase system"] is True
    assert checks["average response time >= 60% lower than the baseline"] is False
    assert checks["server CPU per request >= 40% lower than the before-phase system"] is True
    assert checks["server CPU per request >= 40% lower than the baseline"] is False
    report = (tmp_path / "report.md").read_text()
    assert "350 vs 50 users: 7.00x (measured)" in report
    assert "70% lower (30.0 vs 100.0 ms at 200 users)" in report
    assert "17% lower (5.00 vs 6.00 ms)" in report
    assert "| database CPU per request (ms) | 2.00 | - | - |" in report


def test_a_reference_over_the_objective_from_its_first_step_bounds_the_ratio(check_slo, tmp_path):
    write_run(tmp_path, "optimized", average=30, p95=100, cpu=0.5)
    write_run(tmp_path, "before", average=20, p95=900, cpu=0.25)
    write_steps(tmp_path, "optimized", [50, 100, 300, 700])
    write_steps(tmp_path, "before", [900], users=[100])
    check_slo.main(tmp_path)
    checks = objectives(tmp_path)
    # 350 users against "fewer than 100": at least 3.5x, which cannot decide 5x.
    assert checks["users with p95 < 500 ms >= 5x the before-phase system's"] is None
    report = (tmp_path / "report.md").read_text()
    assert "before: below its first step, 100 users; the ratio is at least): 3.50x" in report
    assert (
        "| server CPU per request >= 40% lower than the before-phase system | NOT MET | 100% higher" in report
    )


def write_curve_point(run: Path, processes: int, p95s: list[float], users: list[int], requests: int) -> None:
    name = f"curve-{processes}"
    write_steps(run, name, p95s, users=users)
    usage = {"cpu_seconds": requests * 0.004, "db_cpu_seconds": requests * 0.001, "processes": processes,
             "server_cpus": "0" if processes < 4 else "0-1", "locust_cpu": "1"}  # fmt: skip
    (run / f"{name}-cpu.json").write_text(json.dumps(usage))
    header = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time\n"
    (run / f"{name}-steps_stats.csv").write_text(header + f",Aggregated,{requests},0,10,10\n")


def test_the_scaling_curve_gives_a_table_a_chart_and_the_capacity_model(check_slo, tmp_path):
    write_run(tmp_path, "optimized", average=30, p95=100)
    write_steps(tmp_path, "before", [100, 300, 700], users=[20, 40, 60])  # 50 users
    write_curve_point(tmp_path, 1, [100, 900], [25, 50], requests=1000)  # 37.5
    write_curve_point(tmp_path, 2, [100, 300, 700], [25, 50, 75], requests=2000)  # 62.5
    write_curve_point(tmp_path, 4, [100, 300, 700], [50, 100, 150], requests=4000)  # 125
    check_slo.main(tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert "| 1 | 0 | 1 | 38 | 25.0 | 4.00 | 1.00 |" in report
    assert "| 4 | 0-1 | 1 | 125 | 75.0 | 4.00 | 1.00 |" in report
    svg = (tmp_path / "curve.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<circle") == 6
    model = json.loads((tmp_path / "report.json").read_text())["model"]
    assert model["users_per_process"] == pytest.approx(31.25)
    assert model["host_cpus"] == 2
    # 5 x 50 users = 250: two hosts of 125.
    assert (model["target_users"], model["hosts"]) == (250, 2)
    # 1 ms of database CPU per request, 0.5 requests per user and second: 2,000 users a CPU.
    assert model["users_per_db_cpu"] == pytest.approx(2000)
    assert "2 such web hosts, if the database keeps up" in report


@pytest.fixture
def usage():
    return script("usage")


def test_usage_counts_new_backends_whole_and_ended_ones_as_lost(usage):
    before = {"servers": 10.0, "backends": {"1": 2.0, "2": 5.0}}
    after = {"servers": 14.5, "backends": {"1": 3.5, "3": 0.5}}
    assert usage.difference(before, after) == {
        "cpu_seconds": 4.5,
        "db_cpu_seconds": 2.0,
        "db_backends_ended": 1,
    }
    assert (
        usage.difference({"servers": 1.0, "backends": {}}, {"servers": 1.0, "backends": {}})["db_cpu_seconds"]
        is None
    )
