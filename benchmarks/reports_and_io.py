"""Reports, exports and imports on TPC-H data in PostgreSQL, next to `psql` doing the same.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench .venv/bin/python benchmarks/reports_and_io.py

The database must be migrated; its commerce tables are replaced (first with scale
--small-scale, then with --scale). In one run it prints:

1. memory: the peak RSS (ru_maxrss) of a worker process that generates a report file
   and an export through the real job path (ReportRun + runner.execute, storage
   included) at the small scale and at the large one. Target: within 20 %.
2. reports: each report's time (query, streaming, CSV file, checksum) next to the same
   SQL run by `psql` as `COPY (…) TO STDOUT (FORMAT csv, HEADER)` into a file.
   Target: ours <= 1.2 x psql. Best of --repeat runs each, alternating.
3. exports: rows/s of the order and line-item exports, next to psql's COPY of the
   same SELECT.
4. request path: each page's and endpoint's median time and query count, and what a
   report costs inline next to the request that now only queues it (issue 4, item 6).
5. import: see ``MEASUREMENTS`` — further measurements at the large scale plug in there.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from psql_side import psql_environment, psql_or_reason  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only")
os.environ.setdefault("DEBUG", "0")
# The request-path measurement uses Django's test client (host "testserver").
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

REPORT_TARGET = 1.2
MEMORY_TARGET = 0.20
# What the memory measurement generates in a worker process: (report, format).
MEMORY_RUNS = [("lineitems_export", "csv"), ("monthly_revenue_by_region", "xlsx")]
REPORTS_TIMED = [
    "pricing_summary",
    "shipping_priority",
    "local_supplier_volume",
    "forecast_revenue_change",
    "returned_items",
    "large_volume_customers",
    "monthly_revenue_by_region",
]
EXPORTS_TIMED = ["orders_export", "lineitems_export"]


@dataclass
class Bench:
    """What every measurement gets: the options, the CSV folders, psql and its environment."""

    args: argparse.Namespace
    folders: dict[str, Path]
    psql: str
    psql_env: dict[str, str]
    work: Path
    failures: list[str] = field(default_factory=list)


# --- helpers -------------------------------------------------------------------------------


def literal_sql(query) -> str:
    """The report's SQL with its parameters as literals (as psql will run it)."""
    import psycopg
    from django.db import connection

    from apps.reports.catalog import SqlQuery

    if isinstance(query, SqlQuery):
        sql, params = query.sql, query.params
    else:
        sql, params = query.query.sql_with_params()
    connection.ensure_connection()
    return psycopg.ClientCursor(connection.connection).mogrify(sql, params)


def psql_copy_seconds(bench: Bench, sql: str, output: Path) -> float:
    statement = "COPY (" + " ".join(sql.split()) + ") TO STDOUT (FORMAT csv, HEADER)"
    started = time.perf_counter()
    subprocess.run(
        [bench.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", str(output), "-c", statement],
        env=bench.psql_env,
        check=True,
    )
    return time.perf_counter() - started


def ours_seconds(name: str, output: Path) -> tuple[float, int]:
    from apps.reports import services

    definition, params, _ = services.report_request_validated(report=name, params={}, format="csv")
    started = time.perf_counter()
    stats = services.report_file_write(definition=definition, params=params, format="csv", path=output)
    return time.perf_counter() - started, stats.rows


def load(bench: Bench, scale: str) -> None:
    from django.db import connection

    from apps.commerce.services import dataset_load

    started = time.perf_counter()
    result = dataset_load(scale=scale, replace=True, directory=bench.folders[scale])
    connection.close()
    print(f"Loaded scale {scale}: {result.rows:,} rows in {time.perf_counter() - started:.1f} s")


def worker_peak_rss(bench: Bench, report: str, fmt: str) -> dict:
    """Generate one run through the job path in a fresh process; its peak RSS."""
    media = bench.work / "media"
    completed = subprocess.run(
        [sys.executable, __file__, "--child", report, fmt],
        env={**os.environ, "MEDIA_ROOT": str(media), "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker process failed: {completed.stderr.strip().splitlines()[-1:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child(report: str, fmt: str) -> int:
    """The worker side of ``worker_peak_rss``: one report run, as a job, inline."""
    import django

    django.setup()
    from apps.jobs import runner
    from apps.reports import services

    run = services.report_run_create(owner=None, report=report, params={}, format=fmt)
    started = time.perf_counter()
    outcome = runner.execute(run.job.pk)
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcome": outcome, "rows": run.rows, "seconds": seconds, "peak_kb": peak_kb}))
    return 0 if outcome == "succeeded" else 1


# --- measurements at the large scale -----------------------------------------------------------


def best_of_ours_and_psql(bench: Bench, name: str) -> tuple[float, float, int]:
    """Best seconds of our run of report ``name`` and of psql's COPY of the same SQL, and its rows."""
    from apps.reports import services

    definition, params, _ = services.report_request_validated(report=name, params={}, format="csv")
    sql = literal_sql(definition.build(params))
    ours, theirs, rows = [], [], 0
    for _ in range(bench.args.repeat):
        seconds, rows = ours_seconds(name, bench.work / f"{name}.csv")
        ours.append(seconds)
        theirs.append(psql_copy_seconds(bench, sql, bench.work / f"{name}.psql.csv"))
    return min(ours), min(theirs), rows


def measure_reports_vs_psql(bench: Bench) -> None:
    print(f"\nReports at scale {bench.args.scale}: best of {bench.args.repeat} (seconds)")
    print(f"{'report':<28} {'rows':>6} {'ours':>8} {'psql':>8} {'ratio':>6}")
    for name in REPORTS_TIMED:
        ours, theirs, rows = best_of_ours_and_psql(bench, name)
        ratio = ours / theirs
        verdict = "" if ratio <= REPORT_TARGET else f"  MISSES {REPORT_TARGET}x"
        if verdict:
            bench.failures.append(f"{name} {ratio:.2f}x psql")
        print(f"{name:<28} {rows:>6} {ours:>8.3f} {theirs:>8.3f} {ratio:>5.2f}x{verdict}")


def measure_exports(bench: Bench) -> None:
    print(f"\nExports at scale {bench.args.scale}: best of {bench.args.repeat}")
    print(f"{'export':<20} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'psql rows/s':>12}")
    for name in EXPORTS_TIMED:
        ours, theirs, rows = best_of_ours_and_psql(bench, name)
        print(f"{name:<20} {rows:>10,} {ours:>8.2f} {rows / ours:>10,.0f} {rows / theirs:>12,.0f}")


def measure_import_vs_psql_copy(bench: Bench) -> None:
    """Import rows/s (validation included) next to `psql \\copy` of the same files (issue 4, item 5)."""
    if bench.args.scale not in bench.folders:
        print("\nImport: skipped (needs the generated CSV files; run without --only).")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from import_bench import measure_import

    rows = measure_import(
        directory=bench.folders[bench.args.scale],
        database_url=os.environ["DATABASE_URL"],
        repeat=min(bench.args.repeat, 2),
    )
    print(f"\nImport at scale {bench.args.scale} (validated, all or nothing) vs psql \\copy:")
    width = max(len(row[0]) for row in rows)
    for measurement, figure, target in rows:
        print(f"  {measurement:<{width}}  {figure:>28}  {target}")


# Pages and endpoints that might still do slow work inline (issue 4, item 6), as staff.
REQUEST_PATHS = [
    "/",
    "/orders/",
    "/orders/?status=P",
    "/orders/?customer={customer}",
    "/orders/?date_from=1995-01-01&date_to=1995-01-31",
    "/orders/{order}/",
    "/api/commerce/orders?limit=50",
    "/api/commerce/orders?status=P&limit=50",
    "/api/commerce/orders/{order}",
    "/api/commerce/customers/{customer}",
    "/jobs/",
    "/reports/",
    "/reports/new/pricing_summary/",
    "/reports/runs/",
    "/admin/commerce/lineitem/",
    "/admin/commerce/order/",
    "/admin/commerce/customer/",
]


def measure_request_path(bench: Bench) -> None:
    """Median time and query count of each page/endpoint (test client, in process), and
    what a report costs a request now that it is a job (POST /api/reports) next to what
    running it inline would cost."""
    import statistics

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.commerce.models import Order

    user, _ = get_user_model().objects.get_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    busiest = Order.objects.values_list("customer_id", flat=True).order_by("-total_price").first()
    order = Order.objects.order_by("-order_date").values_list("id", flat=True).first()
    print(f"\nRequest path at scale {bench.args.scale}: median of 5 (staff user, in process)")
    print(f"{'request':<52} {'status':>6} {'ms':>8} {'queries':>8}")
    for template in REQUEST_PATHS:
        path = template.format(customer=busiest, order=order)
        client.get(path)  # warm caches, as a second visitor would find them
        timings, queries, status = [], 0, 0
        for _ in range(5):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
            queries, status = len(captured.captured_queries), response.status_code
        print(f"{path:<52} {status:>6} {statistics.median(timings):>8.1f} {queries:>8}")

    print("\nReports and exports: inline (what a request would take) vs. the request that queues the job")
    print(f"{'report':<28} {'inline s':>9} {'POST /api/reports ms':>21}")
    for name in [*REPORTS_TIMED, *EXPORTS_TIMED]:
        inline, _ = ours_seconds(name, bench.work / f"{name}.inline.csv")
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            response = client.post("/api/reports", {"report": name}, content_type="application/json")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202, response.content
        print(f"{name:<28} {inline:>9.2f} {statistics.median(timings):>21.1f}")


# Run in this order at the large scale, after the memory measurement. Each takes the Bench.
MEASUREMENTS: list[Callable[[Bench], None]] = [
    measure_reports_vs_psql,
    measure_exports,
    measure_request_path,
    measure_import_vs_psql_copy,
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="0.1", help="the large TPC-H scale (default 0.1)")
    parser.add_argument("--small-scale", default="0.01", help="the small scale for memory (default 0.01)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing, alternating (default 3)")
    parser.add_argument(
        "--only",
        metavar="NAME",
        help="run only the measurements whose name contains NAME, on the data already loaded "
        "(no generating, loading or memory measurement)",
    )
    parser.add_argument("--child", nargs=2, metavar=("REPORT", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    psql, why_not = psql_or_reason()
    if not psql:
        print(why_not)
        return 2

    import django

    django.setup()
    from django.db import connection

    from apps.commerce.services import dataset_generate, dataset_scale

    psql_env = psql_environment(connection.settings_dict)
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as tmp:
        work = Path(tmp)
        if args.only:
            bench = Bench(args=args, folders={}, psql=psql, psql_env=psql_env, work=work)
            for measurement in MEASUREMENTS:
                if args.only in measurement.__name__:
                    measurement(bench)
            return 0
        folders = {}
        for scale in (args.small_scale, args.scale):
            folders[scale] = work / f"tpch-{scale}"
            folders[scale].mkdir()
            dataset_generate(scale=dataset_scale(scale), directory=folders[scale])
        bench = Bench(args=args, folders=folders, psql=psql, psql_env=psql_env, work=work)

        peaks: dict[tuple[str, str], dict[str, dict]] = {}
        for scale in (args.small_scale, args.scale):
            load(bench, scale)
            for report, fmt in MEMORY_RUNS:
                peaks.setdefault((report, fmt), {})[scale] = worker_peak_rss(bench, report, fmt)
        print("\nWorker peak RSS generating a run (job path, storage included)")
        print(f"{'run':<32} {'scale':>6} {'rows':>10} {'seconds':>8} {'peak RSS':>10}")
        for (report, fmt), by_scale in peaks.items():
            for scale, figures in by_scale.items():
                print(
                    f"{report + ' ' + fmt:<32} {scale:>6} {figures['rows']:>10,} "
                    f"{figures['seconds']:>8.2f} {figures['peak_kb'] / 1024:>8.1f} MB"
                )
            small, large = by_scale[args.small_scale]["peak_kb"], by_scale[args.scale]["peak_kb"]
            growth = large / small - 1
            verdict = "within" if abs(growth) <= MEMORY_TARGET else "MISSES"
            if verdict == "MISSES":
                bench.failures.append(f"{report} peak RSS grew {growth:.0%}")
            print(f"{'':<32} growth {growth:+.1%} ({verdict} the {MEMORY_TARGET:.0%} target)")

        for measurement in MEASUREMENTS:
            measurement(bench)

    print()
    print("All targets met." if not bench.failures else "Missed: " + "; ".join(bench.failures))
    return 0 if not bench.failures else 1


if __name__ == "__main__":
    sys.exit(main())
