"""What a valid row is: one rule per CSV column, from the model field it fills.

Each rule is stated once and read two ways: ``ColumnRule.convert`` checks a value in
Python and words what is wrong with it; ``ColumnRule.invalid_sql`` is the same rule as a
PostgreSQL condition over a staged text column, which finds the bad lines of a big file
in one scan. The shape of each kind of value (``_SHAPES``) is one regular expression
that both use.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

from apps.commerce.services.tables import DatasetError, TpchTable

# Problems listed when a file is rejected.
MAX_ERRORS = 20
# A value quoted back in a message is cut to this length.
QUOTED_VALUE_CHARS = 60

# What a value of each kind looks like, and what a value that does not is called.
_SHAPES = {
    "integer": (re.compile(r"[+-]?[0-9]+"), "a whole number"),
    "decimal": (re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"), "a number"),
    "date": (re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"), "a date (YYYY-MM-DD)"),
}
_INTEGER_KINDS = {"IntegerField", "BigIntegerField", "AutoField", "BigAutoField", "SmallIntegerField"}


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

    @classmethod
    def capped(
        cls, table: TpchTable, errors: list[RowError], max_errors: int, *, more: bool = False
    ) -> "LoadRejected":
        """The first ``max_errors`` of ``errors`` by line; ``more`` if any were left out."""
        ordered = sorted(errors, key=lambda error: error.line)
        return cls(table, ordered[:max_errors], more=more or len(ordered) > max_errors)


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

    def _shape_check(self, value: str) -> None:
        if not _SHAPES[self.kind][0].fullmatch(value):
            raise self._unlike(value)

    def _unlike(self, value: str) -> ValueError:
        """What is wrong with a value that is not of its column's kind at all."""
        return ValueError(f"not {_SHAPES[self.kind][1]} (got {_quoted(value)})")

    def _integer(self, value: str) -> int:
        self._shape_check(value)
        number = int(value)
        low, high = self.integer_range or (None, None)
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"not a whole number from {low:,} to {high:,} (got {_quoted(value)})")
        return number

    def _decimal(self, value: str) -> Decimal:
        self._shape_check(value)
        number = Decimal(value)
        if number != round(number, self.places):
            raise ValueError(f"more than {self.places} decimal places (got {_quoted(value)})")
        if abs(number) >= self.decimal_limit:
            raise ValueError(f"not a number below {self.decimal_limit:,} (got {_quoted(value)})")
        return number

    def _date(self, value: str) -> date:
        self._shape_check(value)
        try:
            return date.fromisoformat(value)
        except ValueError:
            # The shape allows 31 days in every month, and the year 0.
            raise self._unlike(value) from None

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
                [_anchored("integer"), safe_digits, low, high],
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
                [_anchored("date")],
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


def record_errors(rules: list[ColumnRule], record: list[str], line: int) -> list[RowError]:
    """Every problem of one CSV record, worded for a person."""
    return record_values(rules, record, line)[1]


def record_values(
    rules: list[ColumnRule], record: list[str], line: int
) -> tuple[tuple[Any, ...] | None, list[RowError]]:
    """The record's values converted, None for each bad one, and every problem worded.

    The values are None as a whole when the record has the wrong number of columns. The
    good values of a bad record still take part in the key checks.
    """
    if len(record) != len(rules):
        return None, [RowError(line, None, f"expected {len(rules)} columns (got {len(record)})")]
    values, errors = [], []
    for rule, raw in zip(rules, record, strict=True):
        try:
            values.append(rule.convert(raw))
        except ValueError as exc:
            values.append(None)
            errors.append(RowError(line, rule.csv, str(exc)))
    return tuple(values), errors


def record_converted(rules: list[ColumnRule], record: list[str]) -> tuple[Any, ...] | None:
    """The record's values converted, or None if any of them is bad (the fast path)."""
    if len(record) != len(rules):
        return None
    try:
        return tuple([rule.convert(raw) for rule, raw in zip(rules, record, strict=True)])
    except ValueError:
        return None


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


def _anchored(kind: str) -> str:
    """The shape of ``kind`` as a PostgreSQL pattern for a whole value."""
    return f"^{_SHAPES[kind][0].pattern}$"


def _quoted(value: str) -> str:
    if len(value) > QUOTED_VALUE_CHARS:
        value = value[: QUOTED_VALUE_CHARS - 1] + "…"
    return f"`{value}`"
