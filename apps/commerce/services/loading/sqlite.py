"""SQLite (the embedded default): rows converted in Python, written with ``executemany``.

- ``insert_load`` (``load_tpch``, trusted files): converted rows straight into the
  table; the first bad value stops the load. Line items get their order's date with one
  ``UPDATE`` of the lines just written.
- ``validated_load`` (the import): every row converted and staged with its line number
  (a bad value as NULL), the keys checked set-based (the problems of both checks are
  reported together), then ``INSERT … SELECT`` from the staging table, which joins each
  line item's order for its date.
"""

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import connection

from apps.commerce.services.loading.files import header_check, record_batches
from apps.commerce.services.loading.keys import STAGING_TABLE, keys_problems
from apps.commerce.services.loading.rules import (
    LoadRejected,
    RowError,
    column_rules,
    record_converted,
    record_errors,
    record_values,
)
from apps.commerce.services.order_dates import lineitem_order_dates_fill, order_date_sql
from apps.commerce.services.progress import Tally
from apps.commerce.services.tables import TpchTable

# Rows per executemany (and per progress step).
BATCH_ROWS = 2000


def insert_load(table: TpchTable, path: Path, tally: Tally, max_errors: int) -> int:
    """Validated, converted rows in batches of ``executemany``; the first bad value stops it.

    Measured at scale 0.01 on SQLite: ``bulk_create`` spends most of its time compiling
    SQL per batch (Django caps a batch at 999 variables, ~60 line items) and takes ~5 s;
    one prepared INSERT run by ``executemany`` loads the same rows in ~1.5 s.
    """
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in table.db_columns)
    placeholders = ", ".join(["%s"] * len(table.db_columns))
    # Identifiers come from the models and are quoted; values go as parameters.
    sql = f"INSERT INTO {qn(table.model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    rules = column_rules(table)
    rows = 0
    with path.open(newline="", encoding="utf-8-sig") as stream, connection.cursor() as cursor:
        batches = _numbered_batches(table, stream)
        last_id = _last_id(table, cursor)
        for first, batch in batches:
            values = []
            for offset, record in enumerate(batch):
                converted = record_converted(rules, record)
                if converted is None:
                    raise LoadRejected(table, record_errors(rules, record, first + offset)[:1])
                values.append(converted)
            cursor.executemany(sql, values)
            rows += len(values)
            tally.add(len(values))
    if table.order_key is not None:
        # One set-based pass over the lines just written (ids are never reused: AUTOINCREMENT).
        lineitem_order_dates_fill(first_id=last_id + 1)
    return rows


def validated_load(table: TpchTable, path: Path, tally: Tally, max_errors: int) -> int:
    """Every row of a person's file checked before any is written."""
    qn = connection.ops.quote_name
    rules = column_rules(table)
    staging = qn(STAGING_TABLE)
    names = ", ".join(qn(rule.csv) for rule in rules)
    errors: list[RowError] = []
    more = False
    rows = 0
    with path.open(newline="", encoding="utf-8-sig") as stream, connection.cursor() as cursor:
        batches = _numbered_batches(table, stream)
        cursor.execute(f"DROP TABLE IF EXISTS temp.{staging}")
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} (line INTEGER NOT NULL, {names})")
        placeholders = ", ".join(["%s"] * (len(rules) + 1))
        sql = f"INSERT INTO {staging} (line, {names}) VALUES ({placeholders})"  # noqa: S608
        for first, batch in batches:
            values = []
            for offset, record in enumerate(batch):
                converted = record_converted(rules, record)
                if converted is None:
                    # Its good values still take part in the key checks.
                    converted, problems = record_values(rules, record, first + offset)
                    errors.extend(problems)
                if converted is not None:
                    values.append((first + offset, *converted))
            if len(errors) > max_errors:
                more = True
                break
            if values:
                cursor.executemany(sql, values)
            rows += len(batch)
            tally.add(len(batch))

        if not more:
            tally.stage("checking keys")
            errors += keys_problems(table, rules, cursor, max_errors, postgresql=False)
        if errors:
            raise LoadRejected.capped(table, errors, max_errors, more=more)

        tally.stage("writing rows")
        columns = ", ".join(qn(column) for column in table.written_columns)
        selected = names
        if table.order_key is not None:
            # Every line's order exists (checked above): the join gives each its date.
            selected += f", {order_date_sql(f's.{qn(table.order_key)}')}"
        cursor.execute(
            f"INSERT INTO {qn(table.model._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {selected} FROM {staging} s ORDER BY line"
        )
        cursor.execute(f"DROP TABLE temp.{staging}")
    return rows


def _numbered_batches(table: TpchTable, stream: Any) -> Iterator[tuple[int, list[list[str]]]]:
    """Check the header; then the file's records in batches, each with its first line's number."""
    reader = csv.reader(stream)
    header_check(table, next(reader, []))
    return ((reader.line_num - len(batch) + 1, batch) for batch in record_batches(reader, BATCH_ROWS))


def _last_id(table: TpchTable, cursor: Any) -> int:
    qn = connection.ops.quote_name
    pk = qn(table.model._meta.pk.column)
    cursor.execute(f"SELECT coalesce(max({pk}), 0) FROM {qn(table.model._meta.db_table)}")  # noqa: S608
    return cursor.fetchone()[0]
