"""PostgreSQL: files go in with COPY, fed from Python in blocks.

- ``copy_load`` (``load_tpch``, trusted files): one COPY into the table; PostgreSQL's
  first bad value stops it with its own message.
- ``validated_load`` (the import): COPY into a staging table of text columns, find the
  bad lines with one scan (``ColumnRule.invalid_sql``), check the keys set-based (the
  problems of both checks are reported together), then COPY the checked file again, now
  into the table.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from django.db import connection

from apps.commerce.services.loading.files import (
    COPY_BLOCK_BYTES,
    file_blocks,
    header_check,
    header_parsed,
    line_ended,
)
from apps.commerce.services.loading.keys import STAGING_TABLE, keys_problems, staged_value
from apps.commerce.services.loading.rules import (
    ColumnRule,
    LoadRejected,
    RowError,
    column_rules,
    record_errors,
)
from apps.commerce.services.order_dates import (
    SuffixOf,
    order_dates_from_file,
    records_dated,
    staged_order_dates,
)
from apps.commerce.services.progress import Tally
from apps.commerce.services.tables import TABLES, DatasetError, TpchTable, first_line

# Where a COPY error happened: "COPY commerce_part, line 3, column p_size: …".
_COPY_CONTEXT = re.compile(r"line (\d+)(?:, column (\w+))?")
# PostgreSQL's COPY messages about the shape of a line, in plain words.
_COPY_SHAPE_MESSAGES = {
    "missing data for column": "has fewer columns than the {count} expected",
    "extra data after last expected column": "has more columns than the {count} expected",
    "unterminated CSV quoted field": "has a quoted value that is never closed",
    "invalid byte sequence for encoding": "is not UTF-8 text",
}


def copy_load(table: TpchTable, path: Path, tally: Tally, max_errors: int) -> int:
    """A trusted file straight into its table; line items dated from orders.csv next to it."""
    with path.open("rb") as stream, connection.cursor() as cursor:
        header = stream.readline()
        header_check(table, header_parsed(header))
        try:
            if table.order_key is None:
                return _table_copy(cursor, table, stream, header, tally)
            with order_dates_from_file(path.with_name(TABLES["orders"].filename)) as suffix_of:
                return _table_copy(cursor, table, stream, header, tally, suffix_of=suffix_of)
        except psycopg.Error as exc:
            raise DatasetError(_copy_error_text(table, exc)) from None


def validated_load(table: TpchTable, path: Path, tally: Tally, max_errors: int) -> int:
    """Every row of a person's file checked in the database before any is written."""
    rules = column_rules(table)
    staging = connection.ops.quote_name(STAGING_TABLE)
    with path.open("rb") as stream, connection.cursor() as cursor:
        header = stream.readline()
        header_check(table, header_parsed(header))
        rows = _staged(cursor, table, rules, stream, header, tally)

        tally.stage("checking values")
        errors, more = _values_problems(cursor, table, rules, max_errors)

        if not more and len(errors) <= max_errors:
            tally.stage("checking keys")
            errors += keys_problems(table, rules, cursor, max_errors, postgresql=True)
        if errors:
            raise LoadRejected.capped(table, errors, max_errors, more=more)

        tally.stage("writing rows")
        suffix_of = None
        if table.order_key is not None:
            # Every line's order exists (checked above): the join gives each its date.
            key = next(rule for rule in rules if rule.csv == table.order_key)
            suffix_of = staged_order_dates(
                cursor.cursor,
                staging=staging,
                order_key_sql=staged_value(key, postgresql=True),
                filename=table.filename,
            )
        cursor.execute(f"DROP TABLE {staging}")
        # The checked file is copied again, now into the table: COPY writes rows in
        # batches, INSERT … SELECT one by one (measured at scale 0.1: the import at 0.45x
        # psql's \\copy with INSERT … SELECT, see benchmarks/import_bench.py). Every
        # value passed the checks above, so PostgreSQL reads each one as they did.
        stream.seek(0)
        header = stream.readline()
        try:
            written = _table_copy(
                cursor, table, stream, header, None, suffix_of=suffix_of, empty_is_text=True
            )
        except psycopg.Error as exc:
            raise DatasetError(_copy_error_text(table, exc)) from None
        if written != rows:
            raise DatasetError(
                f"{table.filename} changed during the import ({rows:,} rows, then {written:,})."
            )
    return rows


def _staged(
    cursor: Any, table: TpchTable, rules: list[ColumnRule], stream: BinaryIO, header: bytes, tally: Tally
) -> int:
    """COPY the rest of the file into a new staging table, as text; returns its rows."""
    qn = connection.ops.quote_name
    staging = qn(STAGING_TABLE)
    names = ", ".join(qn(rule.csv) for rule in rules)
    cursor.execute(f"DROP TABLE IF EXISTS {staging}")
    # Text columns take any value, so that bad ones can be reported by line; the
    # identity numbers rows in file order from 2 (the header is line 1).
    cursor.execute(
        f"CREATE TEMPORARY TABLE {staging} "
        f"(line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2), "
        f"{', '.join(f'{qn(rule.csv)} text' for rule in rules)}) ON COMMIT DROP"
    )
    # FORCE_NOT_NULL: an empty field is the empty string, never NULL.
    sql = f"COPY {staging} ({names}) FROM STDIN WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL ({names}))"
    try:
        return _copy_stream(cursor.cursor, sql, file_blocks(stream), header, tally)
    except psycopg.Error as exc:
        raise LoadRejected(table, [_copy_shape_error(rules, exc)]) from None


def _values_problems(
    cursor: Any, table: TpchTable, rules: list[ColumnRule], max_errors: int
) -> tuple[list[RowError], bool]:
    """One scan of the staging table for lines that break a column rule, worded by ``convert``.

    Returns the problems of the first lines, and whether more lines have some. Each bad
    value is then staged as NULL, so that the key checks pass over it and can cast the rest.
    """
    qn = connection.ops.quote_name
    names = ", ".join(qn(rule.csv) for rule in rules)
    conditions, params = [], []
    for rule in rules:
        condition, condition_params = rule.invalid_sql(qn(rule.csv))
        conditions.append(f"({condition})")
        params.extend(condition_params)
    # Identifiers come from the models and are quoted; values go as parameters.
    cursor.execute(
        f"SELECT line, {names} FROM {qn(STAGING_TABLE)} WHERE {' OR '.join(conditions)} "  # noqa: S608
        "ORDER BY line LIMIT %s",
        [*params, max_errors + 1],
    )
    bad_lines = cursor.fetchall()
    errors = []
    for line, *record in bad_lines[:max_errors]:
        errors.extend(record_errors(rules, list(record), line) or [_unexplained(line)])
    more = len(bad_lines) > max_errors
    if errors and not more:
        _bad_values_cleared(cursor, errors)
    return errors, more


def _bad_values_cleared(cursor: Any, errors: list[RowError]) -> None:
    """Stage each reported bad value as NULL; a line whose fault has no column goes."""
    qn = connection.ops.quote_name
    staging = qn(STAGING_TABLE)
    lines_by_column: dict[str | None, list[int]] = {}
    for error in errors:
        lines_by_column.setdefault(error.column, []).append(error.line)
    for column, lines in lines_by_column.items():
        if column is None:
            cursor.execute(f"DELETE FROM {staging} WHERE line = ANY(%s)", [lines])  # noqa: S608
        else:
            cursor.execute(f"UPDATE {staging} SET {qn(column)} = NULL WHERE line = ANY(%s)", [lines])  # noqa: S608


def _table_copy(
    cursor: Any,
    table: TpchTable,
    stream: BinaryIO,
    header: bytes,
    tally: Tally | None,
    *,
    suffix_of: SuffixOf | None = None,
    empty_is_text: bool = False,
) -> int:
    """COPY the rest of ``stream`` into the table; with ``suffix_of``, each record gets its date."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(column) for column in table.written_columns)
    # HEADER true (rather than stripping the header here) keeps PostgreSQL's line
    # numbers in errors equal to the file's.
    options = "FORMAT csv, HEADER true"
    if empty_is_text:
        options += f", FORCE_NOT_NULL ({', '.join(qn(column) for column in table.db_columns)})"
    sql = f"COPY {qn(table.model._meta.db_table)} ({columns}) FROM STDIN WITH ({options})"
    blocks: Iterable[bytes] = file_blocks(stream)
    if suffix_of is not None:
        blocks = records_dated(stream, suffix_of, block_bytes=COPY_BLOCK_BYTES)
        header = line_ended(header)
    # psycopg's own cursor: Django's wrapper has no copy().
    return _copy_stream(cursor.cursor, sql, blocks, header, tally)


def _copy_stream(cursor: Any, sql: str, blocks: Iterable[bytes], header: bytes, tally: Tally | None) -> int:
    """Feed the header and then the file's blocks to ``COPY … FROM STDIN``."""
    with cursor.copy(sql) as copy:
        copy.write(header)
        last = b"\n"
        for block in blocks:
            copy.write(block)
            if tally is not None:
                tally.add(block.count(b"\n"))
            last = block[-1:]
        if last != b"\n" and tally is not None:
            tally.add(1)
    return cursor.rowcount


def _copy_failure(exc: Exception) -> tuple[str, re.Match[str] | None]:
    """PostgreSQL's message of a failed COPY, and where in the file it failed (if it says)."""
    diag = getattr(exc, "diag", None)
    message = (getattr(diag, "message_primary", None) or first_line(exc)).rstrip(".")
    return message, _COPY_CONTEXT.search(getattr(diag, "context", None) or "")


def _copy_error_text(table: TpchTable, exc: Exception) -> str:
    message, match = _copy_failure(exc)
    if not match:
        return f"{table.filename} could not be loaded: {message}."
    line, column = int(match.group(1)), match.group(2)
    where = f"{table.filename} line {line:,}"
    if column and column in table.db_columns:
        where += f", column {table.csv_columns[table.db_columns.index(column)]}"
    return f"Import failed at {where}: {message}."


def _copy_shape_error(rules: list[ColumnRule], exc: Exception) -> RowError:
    message, match = _copy_failure(exc)
    line = int(match.group(1)) if match else 0
    for prefix, plain in _COPY_SHAPE_MESSAGES.items():
        if message.startswith(prefix):
            message = plain.format(count=len(rules))
            break
    return RowError(line, None, message)


def _unexplained(line: int) -> RowError:
    # The SQL conditions and the converters agree by construction; if they ever do not,
    # the line is still named rather than let through.
    return RowError(line, None, "has a value that is not valid")
