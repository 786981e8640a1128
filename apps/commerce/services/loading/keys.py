"""The set-based checks of a staged file: references, keys repeated in the file, keys taken.

Both databases stage a validated file in a temporary table (``STAGING_TABLE``, one row a
line) and run the same queries over it; on PostgreSQL the staged values are text, cast
to the table's types where they are compared. A value that broke its column's rule is
staged as NULL (already reported): the checks pass over it, and see the line's other values.
"""

from typing import Any

from django.db import connection, models
from django.db.models.options import Options

from apps.commerce.services.loading.rules import ColumnRule, RowError
from apps.commerce.services.tables import TpchTable

# The temporary table a validated load stages its rows in (one per transaction).
STAGING_TABLE = "commerce_import_staging"


def staged_value(rule: ColumnRule, *, postgresql: bool) -> str:
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


def keys_problems(
    table: TpchTable, rules: list[ColumnRule], cursor: Any, max_errors: int, *, postgresql: bool
) -> list[RowError]:
    """References, duplicates in the file, keys already taken: set-based, the first lines
    of each check (``max_errors + 1`` at most, so that a caller can tell there are more)."""
    limit = max_errors + 1
    errors = _missing_references(rules, cursor, limit, postgresql=postgresql)
    for key in _unique_keys(table, rules):
        errors += _repeated_keys(table, key, cursor, limit, postgresql=postgresql)
        errors += _taken_keys(table, key, cursor, limit, postgresql=postgresql)
    return errors


# Identifiers come from the models and are quoted; values go as parameters.


def _missing_references(
    rules: list[ColumnRule], cursor: Any, limit: int, *, postgresql: bool
) -> list[RowError]:
    qn = connection.ops.quote_name
    errors = []
    for rule in rules:
        if not rule.field.is_relation:
            continue
        parent = rule.field.related_model._meta
        value = staged_value(rule, postgresql=postgresql)
        cursor.execute(
            f"SELECT s.line, {value} FROM {qn(STAGING_TABLE)} s "  # noqa: S608
            f"WHERE s.{qn(rule.csv)} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {qn(parent.db_table)} p WHERE p.{qn(rule.field.target_field.column)} = {value}) "
            "ORDER BY s.line LIMIT %s",
            [limit],
        )
        errors.extend(
            RowError(line, rule.csv, f"{_named(parent)} {key} does not exist")
            for line, key in cursor.fetchall()
        )
    return errors


def _repeated_keys(
    table: TpchTable, key: list[ColumnRule], cursor: Any, limit: int, *, postgresql: bool
) -> list[RowError]:
    staging = connection.ops.quote_name(STAGING_TABLE)
    values = [staged_value(rule, postgresql=postgresql) for rule in key]
    listed = ", ".join(values)
    known = " AND ".join(f"s.{connection.ops.quote_name(rule.csv)} IS NOT NULL" for rule in key)
    cursor.execute(
        f"SELECT 1 FROM {staging} s WHERE {known} GROUP BY {listed} HAVING count(*) > 1 LIMIT 1"  # noqa: S608
    )
    if not cursor.fetchone():
        return []
    aliases = ", ".join(f"{value} AS k{index}" for index, value in enumerate(values))
    keys = ", ".join(f"d.k{index}" for index in range(len(values)))
    cursor.execute(
        f"SELECT d.line, d.first, {keys} FROM (SELECT s.line, {aliases}, "  # noqa: S608
        f"min(s.line) OVER (PARTITION BY {listed}) AS first FROM {staging} s WHERE {known}) d "
        "WHERE d.line > d.first ORDER BY d.line LIMIT %s",
        [limit],
    )
    return [
        RowError(
            line,
            _key_column(key),
            f"{_key_label(table, key, key_values)} appears more than once in the file "
            f"(first on line {first:,})",
        )
        for line, first, *key_values in cursor.fetchall()
    ]


def _taken_keys(
    table: TpchTable, key: list[ColumnRule], cursor: Any, limit: int, *, postgresql: bool
) -> list[RowError]:
    qn = connection.ops.quote_name
    values = [staged_value(rule, postgresql=postgresql) for rule in key]
    matches = " AND ".join(
        f"t.{qn(rule.field.column)} = {value}" for rule, value in zip(key, values, strict=True)
    )
    cursor.execute(
        f"SELECT s.line, {', '.join(values)} FROM {qn(STAGING_TABLE)} s WHERE EXISTS "  # noqa: S608
        f"(SELECT 1 FROM {qn(table.model._meta.db_table)} t WHERE {matches}) ORDER BY s.line LIMIT %s",
        [limit],
    )
    return [
        RowError(line, _key_column(key), f"{_key_label(table, key, key_values)} already exists")
        for line, *key_values in cursor.fetchall()
    ]


def _key_column(key: list[ColumnRule]) -> str | None:
    """The column an error about ``key`` names: its one column, or none for a composite key."""
    return key[0].csv if len(key) == 1 else None


def _key_label(table: TpchTable, key: list[ColumnRule], values: list[Any]) -> str:
    if len(key) == 1:
        return f"{_named(table.model._meta)} {values[0]}"
    parts = " and ".join(f"{rule.csv} {value}" for rule, value in zip(key, values, strict=True))
    return f"{_named(table.model._meta)} with {parts}"


def _named(meta: Options) -> str:
    """A model's name to start a sentence with: "Customer", "Part supplier"."""
    name = str(meta.verbose_name)
    return f"{name[:1].upper()}{name[1:]}"
