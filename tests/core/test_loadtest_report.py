"""loadtest/check_slo.py: the objectives of a load-test run, from Locust's files."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def check_slo():
    spec = importlib.util.spec_from_file_location("check_slo", ROOT / "loadtest" / "check_slo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(run: Path, mode: str, *, average: float, p95: float, failures: int = 0) -> None:
    header = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    header += "95%,99%,Requests/s\n"
    rows = [
        f"GET,/api/commerce/orders,100,{failures},{average},{average},{p95},{p95},10\n",
        f",Aggregated,100,{failures},{average},{average},{p95},{p95},10\n",
    ]
    (run / f"{mode}_stats.csv").write_text(header + "".join(rows))
    (run / f"{mode}-cpu.json").write_text(json.dumps({"cpu_seconds": 0.5, "users": 200, "duration": "60s"}))


def write_steps(run: Path, mode: str, p95s: list[float], failures: int = 0) -> None:
    steps = [
        {"users": 100 * (i + 1), "requests": 500, "failures": failures if i == 1 else 0, "rps": 20.0,
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
