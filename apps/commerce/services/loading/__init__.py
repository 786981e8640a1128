"""The loading service: one tpchgen-layout CSV file into one table (``tpch_table_load``).

``load_tpch`` (``dataset_load``) and the import (``csv_import``) both call
``tpch_table_load``; they differ in how much they trust the file:

- ``validate=False`` (``load_tpch``: generated files, empty tables, constraints
  suspended): PostgreSQL COPYs straight into the table and the first bad value stops
  the load with PostgreSQL's own message; SQLite converts each value in Python and
  stops at the first bad one.
- ``validate=True`` (import: a file from a person, tables that already hold data): every
  row is checked before anything is written, and the first ``max_errors`` problems are
  reported with their line numbers (``LoadRejected``):

  1. PostgreSQL COPYs the file into a temporary staging table of text columns (each row
     numbered by its line); SQLite converts the values in Python and stages them.
  2. Values: types, required fields, text lengths and choices (``rules``). On PostgreSQL
     one scan of the staging table with per-column SQL conditions finds the bad lines;
     the Python converters (the same rules) then word the reason for those few lines.
  3. Keys, set-based (``keys``): references to rows that do not exist (anti-joins), keys
     that appear twice in the file, keys that already exist in the table.
  4. Write: PostgreSQL COPYs the checked file again, now into the table (COPY writes
     in batches; ``INSERT … SELECT`` from the staging table, one row at a time, made
     the import 0.45x psql's ``\\copy``); SQLite runs ``INSERT … SELECT`` from staging.

  The caller holds the transaction: a rejected file writes nothing.

Line items are written with their order's date, which their file does not hold
(``order_dates``): from orders.csv next to lineitem.csv (``load_tpch``), or from the
orders table (the import).

Modules: ``rules`` (what a valid value is, in Python and in SQL), ``files`` (reading
the CSV file), ``keys`` (the set-based key checks), ``postgres`` and ``sqlite`` (each
database's two ways in).
"""

from pathlib import Path

from django.db import connection

from apps.commerce.services.loading import postgres, sqlite
from apps.commerce.services.loading.files import data_lines
from apps.commerce.services.loading.rules import MAX_ERRORS, ColumnRule, LoadRejected, RowError, column_rules
from apps.commerce.services.progress import ProgressFactory, Tally, progress_unshown
from apps.commerce.services.tables import DatasetError, TpchTable

__all__ = [
    "MAX_ERRORS",
    "ColumnRule",
    "LoadRejected",
    "RowError",
    "column_rules",
    "tpch_table_load",
]


def tpch_table_load(
    *,
    table: TpchTable,
    path: Path,
    progress_factory: ProgressFactory | None = None,
    validate: bool = False,
    max_errors: int = MAX_ERRORS,
) -> int:
    """Append the rows of one tpchgen-layout CSV file to its table; returns the number of rows.

    Call it inside a transaction: on error part of the file may have been written.
    With ``validate`` every row is checked first (module docstring) and a bad file
    raises ``LoadRejected`` listing up to ``max_errors`` problems. Without it, line items
    take their order's date from orders.csv in the same folder on PostgreSQL (tpchgen
    writes both) and from the loaded orders on SQLite.
    """
    if not path.is_file():
        raise DatasetError(f"{path} does not exist.")
    total = data_lines(path)
    if connection.vendor == "postgresql":
        load = postgres.validated_load if validate else postgres.copy_load
    else:
        load = sqlite.validated_load if validate else sqlite.insert_load
    with (progress_factory or progress_unshown)(table.file, total) as progress:
        return load(table, path, Tally(progress, total, f"reading {table.file} rows"), max_errors)
