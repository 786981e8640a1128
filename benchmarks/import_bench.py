"""How fast the CSV import (every row validated) runs next to `psql \\copy` of the same file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench .venv/bin/python benchmarks/import_bench.py

The database must be migrated. With ``--dir`` the CSV files there are used (else scale
0.1 is generated into a temporary folder); the commerce tables are loaded with that data
set if they do not hold it. Then, alternating, the import (``csv_import``: staging COPY,
value and key checks, INSERT … SELECT, one transaction) and one `psql -1` script of
``\\copy`` lines load orders.csv and lineitem.csv into the emptied orders and line-item
tables (same constraints and indexes: both pay the foreign-key checks at commit). The
tables end as they started. Target: import rows/s >= 0.6 x psql's, validation included.

``measure_import()`` returns the figures as table rows for benchmarks/reports_and_io.py.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from psql_side import psql_environment

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only")
os.environ.setdefault("DEBUG", "0")

TARGET = 0.6
TABLES_MEASURED = ("orders", "lineitem")
# Customers per unit of scale factor (TPC-H): tells the scale of a folder of files.
CUSTOMERS_PER_SCALE = 150_000


def measure_import(*, directory: Path, database_url: str, repeat: int = 2) -> list[tuple[str, str, str]]:
    """(measurement, figure, target) rows: import vs psql \\copy per table, best of ``repeat``."""
    _django_setup(database_url)
    from django.db import connection

    from apps.commerce.models import Dataset
    from apps.commerce.services import TABLES, csv_import

    psql = shutil.which("psql")
    if connection.vendor != "postgresql" or not psql:
        return [("import vs psql \\copy", "skipped: needs PostgreSQL and psql", f">= {TARGET}x")]
    _data_set_loaded(directory)
    recorded = list(Dataset.objects.values_list("pk", "row_counts"))

    qn = connection.ops.quote_name
    measured = [TABLES[name] for name in TABLES_MEASURED]
    # Children first: line items reference orders.
    truncate = f"TRUNCATE {', '.join(qn(t.model._meta.db_table) for t in reversed(measured))}"
    script = Path(tempfile.mkdtemp(prefix="import-bench-")) / "copy.sql"
    scripts = {}
    for table in measured:
        columns = ", ".join(qn(c) for c in table.db_columns)
        path = str(directory / table.filename).replace("'", "''")
        scripts[table.file] = script.with_name(f"{table.file}.sql")
        scripts[table.file].write_text(
            f"\\copy {qn(table.model._meta.db_table)} ({columns}) "
            f"FROM '{path}' WITH (FORMAT csv, HEADER true)\n"
        )
    psql_env = psql_environment(connection.settings_dict)

    best: dict[tuple[str, str], float] = {}
    rows: dict[str, int] = {}
    try:
        for _ in range(repeat):
            for loader in ("import", "psql"):
                with connection.cursor() as cursor:
                    cursor.execute(truncate)
                for table in measured:
                    started = time.perf_counter()
                    if loader == "import":
                        outcome = csv_import(table=table, path=directory / table.filename)
                        if not outcome.imported:
                            raise RuntimeError(outcome.message)
                        rows[table.file] = outcome.rows
                    else:
                        command = [
                            psql,
                            "-X",
                            "-q",
                            "-1",
                            "-v",
                            "ON_ERROR_STOP=1",
                            "-f",
                            str(scripts[table.file]),
                        ]
                        subprocess.run(command, env=psql_env, check=True)
                    seconds = time.perf_counter() - started
                    key = (loader, table.file)
                    best[key] = min(best.get(key, seconds), seconds)
                connection.close()
    finally:
        shutil.rmtree(script.parent, ignore_errors=True)
        # The last loader left the files' rows in place; the record counts what it did before.
        for pk, counts in recorded:
            Dataset.objects.filter(pk=pk).update(row_counts=counts)

    result = []
    total_ours = total_theirs = 0.0
    for table in measured:
        count = rows[table.file]
        ours, theirs = count / best[("import", table.file)], count / best[("psql", table.file)]
        total_ours += best[("import", table.file)]
        total_theirs += best[("psql", table.file)]
        result.append(
            (
                f"import {table.filename} ({count:,} rows, validated)",
                f"{ours:,.0f} rows/s vs psql \\copy {theirs:,.0f} rows/s = {ours / theirs:.2f}x",
                f">= {TARGET}x",
            )
        )
    all_rows = sum(rows.values())
    ratio = total_theirs / total_ours
    result.append(
        (
            f"import orders + line items ({all_rows:,} rows)",
            f"{all_rows / total_ours:,.0f} rows/s vs psql \\copy {all_rows / total_theirs:,.0f} rows/s "
            f"= {ratio:.2f}x ({'meets' if ratio >= TARGET else 'MISSES'})",
            f">= {TARGET}x",
        )
    )
    return result


def _django_setup(database_url: str) -> None:
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ["DATABASE_URL"] = database_url
        django.setup()


def _data_set_loaded(directory: Path) -> None:
    """Load the folder's data set unless the tables hold it (same customers count)."""
    from apps.commerce.models import Customer
    from apps.commerce.services import dataset_load

    with (directory / "customer.csv").open("rb") as stream:
        customers = sum(1 for _ in stream) - 1
    if Customer.objects.count() != customers or not _line_items_present():
        scale = Decimal(customers) / CUSTOMERS_PER_SCALE
        dataset_load(scale=scale, replace=True, directory=directory)


def _line_items_present() -> bool:
    from apps.commerce.models import LineItem

    return LineItem.objects.exists()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, help="a folder of tpchgen-cli CSV files (default: generate)")
    parser.add_argument("--scale", default="0.1", help="scale to generate without --dir (default 0.1)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each loader, alternating (default 2)")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        print("This benchmark compares with psql: set DATABASE_URL to a migrated PostgreSQL database.")
        return 2
    _django_setup(database_url)
    from apps.commerce.services import dataset_generate, dataset_scale

    with tempfile.TemporaryDirectory(prefix="tpch-import-bench-") as tmp:
        directory = args.dir
        if directory is None:
            directory = Path(tmp)
            dataset_generate(scale=dataset_scale(args.scale), directory=directory)
        rows = measure_import(directory=directory, database_url=database_url, repeat=args.repeat)
    width = max(len(row[0]) for row in rows)
    for measurement, figure, target in rows:
        print(f"{measurement:<{width}}  {figure}  (target {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
