"""The loading service: one tpchgen-layout CSV file into one table.

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
  2. Values: types, required fields, text lengths and choices. On PostgreSQL one scan
     of the staging table with per-column SQL conditions finds the bad lines; the
     Python converters (the same rules) then word the reason for those few lines.
  3. Keys, set-based: references to rows that do not exist (anti-joins), keys that
     appear twice in the file, keys that already exist in the table.
  4. Write: PostgreSQL COPYs the checked file again, now into the table (COPY writes
     in batches; ``INSERT … SELECT`` from the staging table, one row at a time, made
     the import 0.45x psql's ``\\copy``); SQLite runs ``INSERT … SELECT`` from staging.

  The caller holds the transaction: a rejected file writes nothing.

Line items are written with their order's date, which their file does not hold
(``order_dates``): from orders.csv next to lineitem.csv (``load_tpch``), or from the
orders table (the import).
"""

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations

from apps.commerce.services.order_dates import (
    lineitem_order_dates_fill,
    order_date_sql,
    order_dates_from_file,
    records_dated,
    staged_order_dates,
)
from apps.commerce.services.tables import TABLES, DatasetError, TpchTable

# COPY is fed in blocks this large: big enough that Python's per-call cost vanishes.
COPY_BLOCK_BYTES = 1 << 20
# Rows per executemany on SQLite (and per progress-bar step).
SQLITE_BATCH_ROWS = 2000
# Problems listed when a file is rejected.
MAX_ERRORS = 20
# The temporary table a validated load stages its rows in (one per transaction).
STAGING_TABLE = "commerce_import_staging"
# A value quoted back in a message is cut to this length.
QUOTED_VALUE_CHARS = 60


class Progress(Protocol):
    def advance(self, count: int) -> None: ...

    def finish(self) -> None: ...


ProgressFactory = Callable[[str, int | None], Progress]


@dataclass(frozen=True)
class RowError:
    """One problem of one line of a file (the header is line 1)."""

    line: int
    column: str | None
    message: str

    @property
    def text(self) -> str:
        where = f"line {self.line:,}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message, "text": self.text}


class LoadRejected(DatasetError):
    """A file with bad rows: nothing of it may be written. ``errors`` are the first ones."""

    def __init__(self, table: TpchTable, errors: list[RowError], *, more: bool = False) -> None:
        self.table = table
        self.errors = sorted(errors, key=lambda error: error.line)
        self.more = more
        super().__init__(f"Import failed at {table.filename} {self.errors[0].text}.")


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
    progress = (progress_factory or _NoProgress)(table.file, _data_lines(path))
    try:
        if connection.vendor == "postgresql":
            load = _validated_load_postgresql if validate else _copy_postgresql
        else:
            load = _validated_load_sqlite if validate else _insert_batches
        rows = load(table, path, progress, max_errors)
    finally:
        progress.finish()
    return rows


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- Column rules: one place for what a valid value is -------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INTEGER_KINDS = {"IntegerField", "BigIntegerField", "AutoField", "BigAutoField", "SmallIntegerField"}


@dataclass(frozen=True)
class ColumnRule:
    """What one CSV column must hold, as a Python converter and as a PostgreSQL condition."""

    csv: str
    field: models.Field
    kind: str  # "integer", "decimal", "date" or "text"
    required: bool
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    integer_range: tuple[int, int] | None = None
    max_digits: int = 0
    places: int = 0

    @property
    def decimal_limit(self) -> Decimal:
        return Decimal(10) ** (self.max_digits - self.places)

    def convert(self, value: str) -> Any:
        """str -> Python value, or ValueError with the reason in plain words."""
        if value == "":
            if self.required:
                raise ValueError("empty (a value is required)")
            return value
        if self.kind == "integer":
            return self._integer(value)
        if self.kind == "decimal":
            return self._decimal(value)
        if self.kind == "date":
            return self._date(value)
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"longer than {self.max_length} characters ({len(value)})")
        if self.choices and value not in self.choices:
            raise ValueError(f"not one of {', '.join(self.choices)} (got {_quoted(value)})")
        return value

    def _integer(self, value: str) -> int:
        if not _INTEGER.fullmatch(value):
            raise ValueError(f"not a whole number (got {_quoted(value)})")
        number = int(value)
        low, high = self.integer_range or (None, None)
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"not a whole number from {low:,} to {high:,} (got {_quoted(value)})")
        return number

    def _decimal(self, value: str) -> Decimal:
        if not _DECIMAL.fullmatch(value):
            raise ValueError(f"not a number (got {_quoted(value)})")
        number = Decimal(value)
        if number != round(number, self.places):
            raise ValueError(f"more than {self.places} decimal places (got {_quoted(value)})")
        if abs(number) >= self.decimal_limit:
            raise ValueError(f"not a number below {self.decimal_limit:,} (got {_quoted(value)})")
        return number

    def _date(self, value: str) -> date:
        try:
            if not _DATE.fullmatch(value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a date (YYYY-MM-DD) (got {_quoted(value)})") from None

    def invalid_sql(self, ref: str) -> tuple[str, list[Any]]:
        """A PostgreSQL condition, true when the staged text ``ref`` breaks this rule.

        It agrees with ``convert``. CASE evaluates its branches in order, so a cast
        only ever sees text that the pattern before it accepted.
        """
        empty = f"{ref} = ''"
        # Patterns carry most of each rule, so that the common valid value costs one
        # regular-expression match and no casts (measured: the check is a fraction of
        # the load).
        if self.kind == "integer":
            low, high = self.integer_range or (-(2**63), 2**63 - 1)
            safe_digits = len(str(min(abs(low), high))) - 1
            return (
                f"CASE WHEN {ref} !~ %s THEN true WHEN char_length({ref}) <= %s THEN false "
                f"ELSE CAST({ref} AS numeric) NOT BETWEEN %s AND %s END",
                [f"^{_INTEGER.pattern}$", safe_digits, low, high],
            )
        if self.kind == "decimal":
            # At most max_digits - places digits before the point (leading zeros aside),
            # at most ``places`` after it (trailing zeros aside): the value rules of
            # ``_decimal`` written as a pattern.
            whole, places = self.max_digits - self.places, self.places
            fraction = f"[0-9]{{0,{places}}}0*"
            point_only = f"\\.[0-9]{{1,{places}}}0*" if places else "\\.0+"
            pattern = f"^[+-]?(0*[0-9]{{1,{whole}}}(\\.{fraction})?|{point_only})$"
            return f"{ref} !~ %s", [pattern]
        if self.kind == "date":
            year = f"CAST(substr({ref}, 1, 4) AS integer)"
            month = f"CAST(substr({ref}, 6, 2) AS integer)"
            day = f"CAST(substr({ref}, 9, 2) AS integer)"
            leap = f"(mod({year}, 4) = 0 AND mod({year}, 100) <> 0) OR mod({year}, 400) = 0"
            days_in_month = (
                f"CASE WHEN {month} IN (4, 6, 9, 11) THEN 30 "
                f"WHEN {month} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END ELSE 31 END"
            )
            return (
                f"CASE WHEN {ref} !~ %s OR substr({ref}, 1, 4) = '0000' THEN true "
                f"WHEN substr({ref}, 9, 2) < '29' THEN false "
                f"ELSE {day} > {days_in_month} END",
                ["^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"],
            )
        conditions, params = [empty] if self.required else [], []
        if self.max_length is not None:
            conditions.append(f"char_length({ref}) > %s")
            params.append(self.max_length)
        if self.choices:
            conditions.append(f"({ref} <> '' AND {ref} <> ALL(%s))")
            params.append(list(self.choices))
        return (" OR ".join(conditions) or "false"), params


def column_rules(table: TpchTable) -> list[ColumnRule]:
    """The rule of each CSV column of ``table``, in file order, from the model fields."""
    return [
        _column_rule(csv_column, field)
        for csv_column, field in zip(table.csv_columns, table.fields, strict=True)
    ]


def _column_rule(csv_column: str, field: models.Field) -> ColumnRule:
    target = field.target_field if field.is_relation else field
    kind = target.get_internal_type()
    required = not field.blank
    if kind in _INTEGER_KINDS:
        # The model's range on every database (SQLite itself would take any 64-bit number).
        low, high = BaseDatabaseOperations.integer_field_ranges[kind]
        return ColumnRule(csv_column, field, "integer", required, integer_range=(low, high))
    if kind == "DecimalField":
        return ColumnRule(
            csv_column, field, "decimal", required, max_digits=target.max_digits, places=target.decimal_places
        )
    if kind == "DateField":
        return ColumnRule(csv_column, field, "date", required)
    choices = tuple(str(value) for value, _ in field.flatchoices) if field.choices else ()
    return ColumnRule(csv_column, field, "text", required, max_length=target.max_length, choices=choices)


def _quoted(value: str) -> str:
    if len(value) > QUOTED_VALUE_CHARS:
        value = value[: QUOTED_VALUE_CHARS - 1] + "…"
    return f"`{value}`"


def _record_errors(rules: list[ColumnRule], record: list[str], line: int) -> list[RowError]:
    """Every problem of one CSV record, worded for a person."""
    if len(record) != len(rules):
        return [RowError(line, None, f"expected {len(rules)} columns (got {len(record)})")]
    errors = []
    for rule, raw in zip(rules, record, strict=True):
        try:
            rule.convert(raw)
        except ValueError as exc:
            errors.append(RowError(line, rule.csv, str(exc)))
    return errors


# --- Reading the file ------------------------------------------------------------------


class _NoProgress:
    def __init__(self, label: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


def _stage(progress: Progress, message: str) -> None:
    """Tell a progress display (a job's) which step runs now, if it can show that."""
    stage = getattr(progress, "stage", None)
    if stage is not None:
        stage(message)


def _data_lines(path: Path) -> int:
    """Rows in a CSV file: its lines minus the header (tpchgen never quotes a newline)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as stream:
        while block := stream.read(COPY_BLOCK_BYTES):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def _header_parsed(raw: bytes) -> list[str]:
    # A spreadsheet may save a byte-order mark before the first column name.
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    return next(csv.reader([text]), [])


def _header_check(table: TpchTable, header: list[str]) -> None:
    if header != table.csv_columns:
        raise LoadRejected(
            table,
            [
                RowError(
                    1,
                    None,
                    f"expected the columns {','.join(table.csv_columns)} "
                    f"(got {','.join(header) or 'an empty line'})",
                )
            ],
        )


def _file_blocks(stream: Any) -> Iterator[bytes]:
    while block := stream.read(COPY_BLOCK_BYTES):
        yield block


def _copy_stream(cursor: Any, sql: str, blocks: Iterable[bytes], header: bytes, progress: Progress) -> int:
    """Feed the header and then the file's blocks to ``COPY … FROM STDIN``."""
    with cursor.copy(sql) as copy:
        copy.write(header)
        last = b"\n"
        for block in blocks:
            copy.write(block)
            progress.advance(block.count(b"\n"))
            last = block[-1:]
        if last != b"\n":
            progress.advance(1)
    return cursor.rowcount


# --- load_tpch: trusted files -----------------------------------------------------------

_COPY_CONTEXT = re.compile(r"line (\d+)(?:, column (\w+))?")


def _copy_postgresql(table: TpchTable, path: Path, progress: Progress, max_errors: int) -> int:
    import psycopg

    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in table.written_columns)
    # HEADER true (rather than stripping the header here) keeps PostgreSQL's line
    # numbers in errors equal to the file's.
    sql = f"COPY {qn(table.model._meta.db_table)} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
    with path.open("rb") as stream, connection.cursor() as django_cursor:
        header = stream.readline()
        _header_check(table, _header_parsed(header))
        try:
            # psycopg's own cursor: Django's wrapper has no copy().
            if table.order_key is None:
                return _copy_stream(django_cursor.cursor, sql, _file_blocks(stream), header, progress)
            with order_dates_from_file(path.with_name(TABLES["orders"].filename)) as suffix_of:
                blocks = records_dated(stream, suffix_of, block_bytes=COPY_BLOCK_BYTES)
                return _copy_stream(django_cursor.cursor, sql, blocks, _line_ended(header), progress)
        except psycopg.Error as exc:
            raise DatasetError(_copy_error_text(table, exc)) from None


def _line_ended(header: bytes) -> bytes:
    # COPY takes the line ending of the first line for the whole file, and dated
    # records end in "\n".
    return header.rstrip(b"\r\n") + b"\n"


def _copy_error_text(table: TpchTable, exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    message = (getattr(diag, "message_primary", None) or first_line(exc)).rstrip(".")
    match = _COPY_CONTEXT.search(getattr(diag, "context", None) or "")
    if not match:
        return f"{table.filename} could not be loaded: {message}."
    line, column = int(match.group(1)), match.group(2)
    where = f"{table.filename} line {line:,}"
    if column and column in table.db_columns:
        where += f", column {table.csv_columns[table.db_columns.index(column)]}"
    return f"Import failed at {where}: {message}."


def _insert_batches(table: TpchTable, path: Path, progress: Progress, max_errors: int) -> int:
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
        reader = csv.reader(stream)
        _header_check(table, next(reader, []))
        last_id = _last_id(table, cursor)
        for batch in _batches(reader, SQLITE_BATCH_ROWS):
            first = reader.line_num - len(batch) + 1
            values = []
            for offset, record in enumerate(batch):
                converted = _converted(rules, record)
                if converted is None:
                    raise LoadRejected(table, _record_errors(rules, record, first + offset)[:1])
                values.append(converted)
            cursor.executemany(sql, values)
            rows += len(values)
            progress.advance(len(values))
    if table.order_key is not None:
        # One set-based pass over the lines just written (ids are never reused: AUTOINCREMENT).
        lineitem_order_dates_fill(first_id=last_id + 1)
    return rows


def _last_id(table: TpchTable, cursor: Any) -> int:
    qn = connection.ops.quote_name
    pk = qn(table.model._meta.pk.column)
    cursor.execute(f"SELECT coalesce(max({pk}), 0) FROM {qn(table.model._meta.db_table)}")  # noqa: S608
    return cursor.fetchone()[0]


def _converted(rules: list[ColumnRule], record: list[str]) -> tuple[Any, ...] | None:
    """The record's values converted, or None if any of them is bad (the fast path)."""
    if len(record) != len(rules):
        return None
    try:
        return tuple([rule.convert(raw) for rule, raw in zip(rules, record, strict=True)])
    except ValueError:
        return None


def _batches(reader: Iterator[list[str]], size: int) -> Iterator[list[list[str]]]:
    batch: list[list[str]] = []
    for record in reader:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- Import: every row checked first ----------------------------------------------------

# PostgreSQL's COPY messages about the shape of a line, in plain words.
_COPY_SHAPE_MESSAGES = {
    "missing data for column": "has fewer columns than the {count} expected",
    "extra data after last expected column": "has more columns than the {count} expected",
    "unterminated CSV quoted field": "has a quoted value that is never closed",
    "invalid byte sequence for encoding": "is not UTF-8 text",
}


def _validated_load_postgresql(table: TpchTable, path: Path, progress: Progress, max_errors: int) -> int:
    import psycopg

    qn = connection.ops.quote_name
    rules = column_rules(table)
    staging = qn(STAGING_TABLE)
    names = ", ".join(qn(rule.csv) for rule in rules)
    with path.open("rb") as stream, connection.cursor() as cursor:
        header = stream.readline()
        _header_check(table, _header_parsed(header))
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
            rows = _copy_stream(cursor.cursor, sql, _file_blocks(stream), header, progress)
        except psycopg.Error as exc:
            raise LoadRejected(table, [_copy_shape_error(rules, exc)]) from None

        _stage(progress, "checking values")
        conditions, params = [], []
        for rule in rules:
            condition, condition_params = rule.invalid_sql(qn(rule.csv))
            conditions.append(f"({condition})")
            params.extend(condition_params)
        # Identifiers come from the models and are quoted; values go as parameters.
        cursor.execute(
            f"SELECT line, {names} FROM {staging} WHERE {' OR '.join(conditions)} "  # noqa: S608
            "ORDER BY line LIMIT %s",
            [*params, max_errors + 1],
        )
        bad_lines = cursor.fetchall()
        if bad_lines:
            errors = []
            for line, *record in bad_lines[:max_errors]:
                errors.extend(_record_errors(rules, list(record), line) or [_unexplained(line)])
            raise LoadRejected(
                table, errors[:max_errors], more=len(bad_lines) > max_errors or len(errors) > max_errors
            )

        _stage(progress, "checking keys")
        _keys_check(table, rules, cursor, max_errors, postgresql=True)

        _stage(progress, "writing rows")
        suffix_of = None
        if table.order_key is not None:
            # Every line's order exists (checked above): the join gives each its date.
            key = next(rule for rule in rules if rule.csv == table.order_key)
            suffix_of = staged_order_dates(
                cursor.cursor,
                staging=staging,
                order_key_sql=_staged_value(key, postgresql=True),
                filename=table.filename,
            )
        cursor.execute(f"DROP TABLE {staging}")
        # The checked file is copied again, now into the table: COPY writes rows in
        # batches, INSERT … SELECT one by one (measured at scale 0.1: the import at 0.45x
        # psql's \\copy with INSERT … SELECT, see benchmarks/import_bench.py). Every
        # value passed the checks above, so PostgreSQL reads each one as they did.
        stream.seek(0)
        header = stream.readline()
        file_columns = ", ".join(qn(column) for column in table.db_columns)
        columns = ", ".join(qn(column) for column in table.written_columns)
        sql = (
            f"COPY {qn(table.model._meta.db_table)} ({columns}) FROM STDIN "
            f"WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL ({file_columns}))"
        )
        blocks: Iterable[bytes] = _file_blocks(stream)
        if suffix_of is not None:
            blocks = records_dated(stream, suffix_of, block_bytes=COPY_BLOCK_BYTES)
            header = _line_ended(header)
        try:
            written = _copy_stream(cursor.cursor, sql, blocks, header, _NoProgress(table.file, None))
        except psycopg.Error as exc:
            raise DatasetError(_copy_error_text(table, exc)) from None
        if written != rows:
            raise DatasetError(
                f"{table.filename} changed during the import ({rows:,} rows, then {written:,})."
            )
    return rows


def _copy_shape_error(rules: list[ColumnRule], exc: Exception) -> RowError:
    diag = getattr(exc, "diag", None)
    message = (getattr(diag, "message_primary", None) or first_line(exc)).rstrip(".")
    match = _COPY_CONTEXT.search(getattr(diag, "context", None) or "")
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


def _validated_load_sqlite(table: TpchTable, path: Path, progress: Progress, max_errors: int) -> int:
    qn = connection.ops.quote_name
    rules = column_rules(table)
    staging = qn(STAGING_TABLE)
    names = ", ".join(qn(rule.csv) for rule in rules)
    errors: list[RowError] = []
    more = False
    rows = 0
    with path.open(newline="", encoding="utf-8-sig") as stream, connection.cursor() as cursor:
        reader = csv.reader(stream)
        _header_check(table, next(reader, []))
        cursor.execute(f"DROP TABLE IF EXISTS temp.{staging}")
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} (line INTEGER NOT NULL, {names})")
        placeholders = ", ".join(["%s"] * (len(rules) + 1))
        sql = f"INSERT INTO {staging} (line, {names}) VALUES ({placeholders})"  # noqa: S608
        for batch in _batches(reader, SQLITE_BATCH_ROWS):
            first = reader.line_num - len(batch) + 1
            values = []
            for offset, record in enumerate(batch):
                converted = _converted(rules, record)
                if converted is None:
                    errors.extend(_record_errors(rules, record, first + offset))
                elif not errors:
                    values.append((first + offset, *converted))
            if len(errors) > max_errors:
                more = True
                break
            if values and not errors:
                cursor.executemany(sql, values)
            rows += len(batch)
            progress.advance(len(batch))
        if errors:
            raise LoadRejected(table, errors[:max_errors], more=more)

        _stage(progress, "checking keys")
        _keys_check(table, rules, cursor, max_errors, postgresql=False)

        _stage(progress, "writing rows")
        columns = ", ".join(qn(column) for column in table.written_columns)
        values = names
        if table.order_key is not None:
            # Every line's order exists (checked above): the join gives each its date.
            values += f", {order_date_sql(f's.{qn(table.order_key)}')}"
        cursor.execute(
            f"INSERT INTO {qn(table.model._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {values} FROM {staging} s ORDER BY line"
        )
        cursor.execute(f"DROP TABLE temp.{staging}")
    return rows


def _staged_value(rule: ColumnRule, *, postgresql: bool) -> str:
    """The staged value of a column as the table's type (staged text is cast on PostgreSQL)."""
    ref = f"s.{connection.ops.quote_name(rule.csv)}"
    if not postgresql or rule.kind == "text":
        return ref
    return f"CAST({ref} AS {rule.field.cast_db_type(connection)})"


def _unique_keys(table: TpchTable, rules: list[ColumnRule]) -> list[list[ColumnRule]]:
    """The keys no two rows may share: the primary key and unique constraints in the file."""
    by_field = {rule.field.name: rule for rule in rules}
    meta = table.model._meta
    keys = []
    if meta.pk.name in by_field:
        keys.append([by_field[meta.pk.name]])
    keys.extend(
        [by_field[field_name] for field_name in constraint.fields]
        for constraint in meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
        and constraint.fields
        and constraint.condition is None
        and all(field_name in by_field for field_name in constraint.fields)
    )
    return keys


def _key_label(table: TpchTable, key: list[ColumnRule], values: list[Any]) -> str:
    name = str(table.model._meta.verbose_name)
    if len(key) == 1:
        return f"{name[:1].upper()}{name[1:]} {values[0]}"
    parts = " and ".join(f"{rule.csv} {value}" for rule, value in zip(key, values, strict=True))
    return f"{name[:1].upper()}{name[1:]} with {parts}"


def _keys_check(
    table: TpchTable, rules: list[ColumnRule], cursor: Any, max_errors: int, *, postgresql: bool
) -> None:
    """References, duplicates in the file, keys already taken: set-based, first lines first."""
    qn = connection.ops.quote_name
    staging = qn(STAGING_TABLE)
    target = qn(table.model._meta.db_table)
    errors: list[RowError] = []
    limit = max_errors + 1

    # Identifiers come from the models and are quoted; values go as parameters.
    for rule in rules:
        if not rule.field.is_relation:
            continue
        parent = rule.field.related_model._meta
        value = _staged_value(rule, postgresql=postgresql)
        cursor.execute(
            f"SELECT s.line, {value} FROM {staging} s WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {qn(parent.db_table)} p WHERE p.{qn(rule.field.target_field.column)} = {value}) "
            "ORDER BY s.line LIMIT %s",
            [limit],
        )
        name = str(parent.verbose_name)
        errors.extend(
            RowError(line, rule.csv, f"{name[:1].upper()}{name[1:]} {key} does not exist")
            for line, key in cursor.fetchall()
        )

    for key in _unique_keys(table, rules):
        values = [_staged_value(rule, postgresql=postgresql) for rule in key]
        listed = ", ".join(values)
        cursor.execute(
            f"SELECT 1 FROM {staging} s GROUP BY {listed} HAVING count(*) > 1 LIMIT 1"  # noqa: S608
        )
        if cursor.fetchone():
            aliases = ", ".join(f"{value} AS k{index}" for index, value in enumerate(values))
            keys = ", ".join(f"d.k{index}" for index in range(len(values)))
            cursor.execute(
                f"SELECT d.line, d.first, {keys} FROM (SELECT s.line, {aliases}, "  # noqa: S608
                f"min(s.line) OVER (PARTITION BY {listed}) AS first FROM {staging} s) d "
                "WHERE d.line > d.first ORDER BY d.line LIMIT %s",
                [limit],
            )
            errors.extend(
                RowError(
                    line,
                    key[0].csv if len(key) == 1 else None,
                    f"{_key_label(table, key, list(key_values))} appears more than once in the file "
                    f"(first on line {first:,})",
                )
                for line, first, *key_values in cursor.fetchall()
            )
        matches = " AND ".join(
            f"t.{qn(rule.field.column)} = {value}" for rule, value in zip(key, values, strict=True)
        )
        cursor.execute(
            f"SELECT s.line, {listed} FROM {staging} s WHERE EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {target} t WHERE {matches}) ORDER BY s.line LIMIT %s",
            [limit],
        )
        errors.extend(
            RowError(
                line,
                key[0].csv if len(key) == 1 else None,
                f"{_key_label(table, key, list(key_values))} already exists",
            )
            for line, *key_values in cursor.fetchall()
        )

    if errors:
        errors.sort(key=lambda error: error.line)
        raise LoadRejected(table, errors[:max_errors], more=len(errors) > max_errors)
