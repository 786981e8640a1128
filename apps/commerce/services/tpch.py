"""Generating TPC-H data with tpchgen-cli and loading a whole data set (``load_tpch``).

Each file goes through the shared loading service (``loading.tpch_table_load``); this
module adds the data-set workflow around it: one scale at a time, all or nothing.
"""

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction

from apps.commerce.models import Dataset
from apps.commerce.services.loading import tpch_table_load
from apps.commerce.services.progress import ProgressFactory
from apps.commerce.services.tables import TABLES, DatasetError, first_line

SCALE_PLACES = Decimal("0.0001")
INSTALL_HINT = "install it with `pip install tpchgen-cli` (or `make install`)"


class LoadStatus(StrEnum):
    LOADED = "loaded"
    ALREADY_LOADED = "already_loaded"
    DATA_PRESENT = "data_present"


@dataclass
class DatasetLoadResult:
    status: LoadStatus
    scale: Decimal
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    vendor: str = ""

    @property
    def rows(self) -> int:
        return sum(self.row_counts.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def scale_text(scale: Decimal) -> str:
    """0.0100 -> "0.01", 10.0000 -> "10"."""
    return f"{scale.normalize():f}"


def dataset_scale(value: Any) -> Decimal:
    """The scale factor as stored in ``Dataset.scale``, or a DatasetError saying what is wrong."""
    try:
        scale = Decimal(str(value).strip())
    except InvalidOperation:
        raise DatasetError(f"Scale must be a number greater than 0 (got {value!r}).") from None
    if not scale.is_finite() or scale <= 0:
        raise DatasetError(f"Scale must be a number greater than 0 (got {value}).")
    if scale != scale.quantize(SCALE_PLACES) or scale >= 10**6:
        raise DatasetError(f"Scale must be a multiple of 0.0001 below 1,000,000 (got {value}).")
    return scale.quantize(SCALE_PLACES)


def generator_path() -> str:
    """Where ``settings.TPCH_GENERATOR`` lives: on PATH, or next to this Python (the venv's bin)."""
    name = settings.TPCH_GENERATOR
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise DatasetError(
            f"The TPC-H generator {name!r} was not found on PATH or in "
            f"{Path(sys.executable).parent}: {INSTALL_HINT}."
        )
    return found


def dataset_generate(*, scale: Decimal, directory: Path) -> None:
    """Write the eight tpchgen CSV files of ``scale`` into ``directory``."""
    command = [generator_path(), "csv", "-s", scale_text(scale), "-o", str(directory), "-q"]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DatasetError(f"Could not run {command[0]}: {exc.strerror}.") from None
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines() or ["no output"]
        raise DatasetError(f"{command[0]} failed (exit {completed.returncode}): {lines[-1]}")
    missing = [t.filename for t in TABLES.values() if not (directory / t.filename).is_file()]
    if missing:
        raise DatasetError(f"{command[0]} did not write {', '.join(missing)} into {directory}.")


def database_check(*, timeout: int = 5) -> None:
    """Fail fast, in one line, when the database cannot be reached.

    On PostgreSQL a direct connection with a connect timeout is tried first: the
    connection pool would otherwise retry for its whole timeout and log each attempt.
    """
    if connection.vendor == "postgresql":
        params = connection.get_connection_params()
        for key in ("context", "cursor_factory", "prepare_threshold"):
            params.pop(key, None)
        try:
            psycopg.connect(**params, connect_timeout=timeout).close()
        except psycopg.Error as exc:
            raise DatasetError(f"Cannot connect to the database: {first_line(exc)}") from None
        return
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        raise DatasetError(f"Cannot connect to the database: {first_line(exc)}") from None


def dataset_load(
    *,
    scale: Any,
    replace: bool = False,
    if_empty: bool = False,
    directory: Path | None = None,
    progress_factory: ProgressFactory | None = None,
) -> DatasetLoadResult:
    """Load the TPC-H data set of ``scale`` into the commerce tables, all or nothing.

    1. Lock out other loaders, then look at what the tables hold: the same scale
       (without ``replace``) is already loaded; data of another or unknown origin is
       refused without ``replace``; with ``if_empty`` any data is left as it is.
    2. Generate the CSV files into a temporary folder (unless ``directory`` has them).
    3. Empty the tables, load each file in dependency order, check the foreign keys,
       and record the ``Dataset`` row. Any failure rolls everything back.
    """
    scale = dataset_scale(scale)
    with transaction.atomic():
        _lock_loaders()
        current = Dataset.objects.order_by("-loaded_at").first()
        present = _tables_with_rows()
        if present and if_empty:
            return DatasetLoadResult(LoadStatus.DATA_PRESENT, scale, vendor=connection.vendor)
        if present and not replace:
            if current is None:
                raise DatasetError(
                    f"The commerce tables already hold data ({', '.join(present)}) that no TPC-H "
                    f"load recorded; use --replace to delete it and load scale {scale_text(scale)}."
                )
            if current.scale != scale:
                raise DatasetError(
                    f"Tables hold TPC-H scale {scale_text(current.scale)}; use --replace to load "
                    f"scale {scale_text(scale)} instead."
                )
            return DatasetLoadResult(
                LoadStatus.ALREADY_LOADED, scale, dict(current.row_counts), current.seconds, connection.vendor
            )

        with _csv_directory(scale, directory) as folder:
            # Loading time only: generating the files is tpchgen-cli's part.
            started = time.perf_counter()
            _tables_empty()
            with _indexes_and_constraints_suspended():
                row_counts = {
                    name: tpch_table_load(
                        table=table, path=folder / table.filename, progress_factory=progress_factory
                    )
                    for name, table in TABLES.items()
                }
            _foreign_keys_check()
            seconds = time.perf_counter() - started
        Dataset.objects.all().delete()
        Dataset.objects.create(scale=scale, row_counts=row_counts, seconds=round(seconds, 3))
    return DatasetLoadResult(LoadStatus.LOADED, scale, row_counts, seconds, connection.vendor)


# --- internals -----------------------------------------------------------------------


class _csv_directory:
    """The folder holding the CSV files: the given one, or a fresh temporary one."""

    def __init__(self, scale: Decimal, directory: Path | None) -> None:
        self.scale = scale
        self.directory = directory
        self.temporary: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Path:
        if self.directory is not None:
            return Path(self.directory)
        self.temporary = tempfile.TemporaryDirectory(prefix="tpch-")
        folder = Path(self.temporary.name)
        dataset_generate(scale=self.scale, directory=folder)
        return folder

    def __exit__(self, *exc_info: object) -> None:
        if self.temporary is not None:
            self.temporary.cleanup()


def _lock_loaders() -> None:
    # Two loads at once would interleave TRUNCATE and COPY; the second waits instead.
    # (SQLite's IMMEDIATE transactions already admit one writer at a time.)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(Dataset._meta.db_table)
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def _tables_with_rows() -> list[str]:
    return [name for name, table in TABLES.items() if table.model._default_manager.exists()]


def _tables_empty() -> None:
    tables = [t.model._meta.db_table for t in TABLES.values()]
    # TRUNCATE on PostgreSQL (restarting the id sequences), DELETE on SQLite. No
    # CASCADE: a table of another app pointing here makes this fail instead of
    # silently emptying that table too.
    statements = connection.ops.sql_flush(_NoStyle(), tables, reset_sequences=True, allow_cascade=False)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _outside_references_refuse(cursor, tables)
            # TRUNCATE refuses tables with queued foreign-key checks (rows written
            # earlier in this same transaction): run those checks first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        for statement in statements:
            cursor.execute(statement)


def _outside_references_refuse(cursor: Any, tables: list[str]) -> None:
    """Say in one line which other table keeps the commerce tables from being emptied.

    TRUNCATE would refuse too, without naming it. The partitioning script keeps the
    tables it converted, with their foreign keys, until someone drops them.
    """
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conparentid = 0
          AND c.confrelid = ANY(%s::regclass[]) AND NOT c.conrelid = ANY(%s::regclass[])
        ORDER BY 1, 2
        LIMIT 1
        """,
        [tables, tables],
    )
    row = cursor.fetchone()
    if row is None:
        return
    referrer, referenced = row
    if referrer.endswith("_unpartitioned"):
        raise DatasetError(
            f"{referrer}, the copy that deploy/partitioning/partition_orders_by_date.sql kept, still "
            f"refers to {referenced}: check the partitioned tables, drop commerce_order_unpartitioned "
            "and commerce_lineitem_unpartitioned, then load again."
        )
    raise DatasetError(
        f"{referrer} has a foreign key to {referenced}, so the commerce tables cannot be emptied "
        "(load_tpch empties no other table): drop that foreign key first."
    )


class _indexes_and_constraints_suspended:
    """On PostgreSQL, drop the secondary indexes, unique and foreign-key constraints of
    the (empty) commerce tables while loading, and build them again afterwards.

    Why: Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so every copied row
    queues one trigger event that runs one lookup at commit, and every row updates
    every index. Building an index from loaded rows is one sort, and adding a foreign
    key checks all rows with one join: the load runs several times faster (see
    benchmarks/load_tpch.py). The definitions come from the catalog, so the same
    names and options come back. Inside the load's transaction a failure rolls the
    drops back too; an invalid row fails the re-add with PostgreSQL's own message.
    Primary keys stay: the foreign keys need them. On partitioned tables (after
    deploy/partitioning) the parent's indexes and constraints are dropped and built
    again, which does the same on every partition.
    """

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __enter__(self) -> None:
        if connection.vendor != "postgresql":
            return
        tables = [t.model._meta.db_table for t in TABLES.values()]
        with connection.cursor() as cursor:
            # Constraints (unique before foreign keys, which may rely on them), then the
            # indexes that no constraint owns.
            # conparentid = 0: a foreign key to a partitioned table also has one row per
            # partition it references, which go with it.
            cursor.execute(
                """
                SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
                FROM pg_constraint c
                WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('u', 'f') AND c.conparentid = 0
                ORDER BY c.contype DESC, c.conname
                """,
                [tables],
            )
            constraints = cursor.fetchall()
            # A partitioned table's index is defined "ON ONLY" the parent (pg_dump then
            # attaches each partition's); created without ONLY, it covers every partition.
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text,
                       CASE WHEN x.relkind = 'I'
                            THEN regexp_replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
                            ELSE pg_get_indexdef(i.indexrelid) END
                FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                ORDER BY 1
                """,
                [tables],
            )
            indexes = cursor.fetchall()
            for table, name, _ in reversed(constraints):
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {name}")
        self.statements = [definition for _, definition in indexes] + [
            f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
            for table, name, definition in constraints
        ]

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is not None or not self.statements:
            return
        with connection.cursor() as cursor:
            for statement in self.statements:
                try:
                    cursor.execute(statement)
                except DatabaseError as exc:
                    raise DatasetError(_inconsistency_text(exc)) from None


class _NoStyle:
    def __getattr__(self, name: str) -> Callable[[str], str]:
        return str


def _foreign_keys_check() -> None:
    """Check the deferred foreign keys now, so a bad reference fails here in one line."""
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            connection.check_constraints(table_names=[t.model._meta.db_table for t in TABLES.values()])
    except IntegrityError as exc:
        raise DatasetError(_inconsistency_text(exc)) from None


def _inconsistency_text(exc: DatabaseError) -> str:
    # PostgreSQL names the offending key in the detail: "Key (part_id)=(999999) is not present…"
    detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None)
    return f"The data set is inconsistent: {first_line(exc)}" + (f" ({detail})" if detail else "")
