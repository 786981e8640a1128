"""How fast `load_tpch` loads TPC-H data into PostgreSQL, next to `psql \\copy`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench .venv/bin/python benchmarks/load_tpch.py

The database must be migrated and its commerce tables are replaced. The CSV files are
generated once; then, alternating, our loading service and one `psql -1` script of
`TRUNCATE` + `\\copy` lines load the same files into the same tables (same constraints,
same indexes, one transaction each). Target: our rows/s >= 0.8 x psql's.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from psql_side import psql_environment, psql_or_reason

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only")
os.environ.setdefault("DEBUG", "0")

TARGET = 0.8


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="0.1", help="TPC-H scale factor (default 0.1)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each loader, alternating (default 2)")
    args = parser.parse_args()

    psql, why_not = psql_or_reason()
    if not psql:
        print(why_not)
        return 2

    import django

    django.setup()
    from django.db import connection

    from apps.commerce.services import TABLES, DatasetError, dataset_generate, dataset_load, dataset_scale

    scale = dataset_scale(args.scale)
    with tempfile.TemporaryDirectory(prefix="tpch-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        try:
            dataset_generate(scale=scale, directory=folder)
        except DatasetError as exc:
            print(exc)
            return 2
        print(f"Generated scale {args.scale} into {folder} in {time.perf_counter() - started:.1f} s")

        qn = connection.ops.quote_name
        tables = [t.model._meta.db_table for t in TABLES.values()]
        script = folder / "copy.sql"
        lines = [f"TRUNCATE {', '.join(qn(t) for t in tables)} RESTART IDENTITY;"]
        for table in TABLES.values():
            columns = ", ".join(qn(c) for c in table.db_columns)
            path = str(folder / table.filename).replace("'", "''")
            lines.append(
                f"\\copy {qn(table.model._meta.db_table)} ({columns}) "
                f"FROM '{path}' WITH (FORMAT csv, HEADER true)"
            )
        script.write_text("\n".join(lines) + "\n")
        psql_env = psql_environment(connection.settings_dict)
        psql_command = [psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", str(script)]
        total_rows = None

        results: list[tuple[str, int, int, float]] = []
        for run in range(1, args.repeat + 1):
            # Wall clock around the whole call: checks, truncation, load, commit.
            started = time.perf_counter()
            result = dataset_load(scale=scale, replace=True, directory=folder)
            total_rows = result.rows
            results.append(("load_tpch service", run, result.rows, time.perf_counter() - started))
            connection.close()

            started = time.perf_counter()
            subprocess.run(psql_command, env=psql_env, check=True)
            results.append(("psql \\copy", run, total_rows, time.perf_counter() - started))

        # Leave the tables as the service loads them (with their Dataset row).
        dataset_load(scale=scale, replace=True, directory=folder)

    print()
    print(f"{'loader':<20} {'run':>3} {'rows':>12} {'seconds':>8} {'rows/s':>12}")
    for name, run, rows, seconds in results:
        print(f"{name:<20} {run:>3} {rows:>12,} {seconds:>8.2f} {rows / seconds:>12,.0f}")
    ours = max(rows / seconds for name, _, rows, seconds in results if name.startswith("load_tpch"))
    theirs = max(rows / seconds for name, _, rows, seconds in results if name.startswith("psql"))
    ratio = ours / theirs
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print()
    print(
        f"Best of {args.repeat}: load_tpch {ours:,.0f} rows/s, psql {theirs:,.0f} rows/s: "
        f"ratio {ratio:.2f} ({verdict} the target of {TARGET})"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
