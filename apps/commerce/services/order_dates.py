"""Line items carry their order's date (``LineItem.order_date``): how each writer gives it.

The date is the partition key of docs/scaling.md ("Range partitioning"): an order and
its lines go to partitions of the same year. Neither tpchgen's lineitem file nor an
imported one holds it, so the loading service adds it as it writes the lines:

- PostgreSQL appends ``,<date>`` to every CSV record it COPYs (``records_dated``). For
  ``load_tpch`` the dates come from orders.csv, read alongside lineitem.csv
  (``OrderDatesFromFile``); for the import, from the staged lines joined with their
  orders (``staged_order_dates``). Writing the date with the row keeps the load one
  pass over the table (measured at scale 0.1: an ``UPDATE`` of the 600,572 loaded lines
  afterwards took 15-18 s, twice the whole load) and works on partitioned tables, where
  a row needs its key as it arrives.
- SQLite writes the lines, then fills them with one ``UPDATE`` (``load_tpch``:
  ``lineitem_order_dates_fill``) or joins the orders in its ``INSERT … SELECT`` from
  staging (the import: ``order_date_sql``).

``lineitem_order_dates_backfill`` fills the lines written before the column existed,
one id range per transaction (``manage.py backfill_lineitem_order_date``).
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.db import connection, transaction

from apps.commerce.models import LineItem, Order
from apps.commerce.services.progress import ProgressFactory, progress_unshown
from apps.commerce.services.tables import TABLES, DatasetError

# Line-item ids per transaction of the backfill: each batch holds its row locks for well
# under a second, and 600 million lines take 12,000 batches.
BACKFILL_BATCH_SIZE = 50_000

# ``suffix_of(first line of a record)`` -> b",<date>\n", the end every record gets.
SuffixOf = Callable[[bytes], bytes]


def records_dated(stream: BinaryIO, suffix_of: SuffixOf, *, block_bytes: int) -> Iterator[bytes]:
    """Blocks of the CSV records left in ``stream``, each ending in ``suffix_of(its first line)``.

    A record ends at a line break outside quotes. A line with an odd number of quote
    characters opens or closes a quoted value (a quote inside one is written twice), so
    a value with line breaks stays whole and the date goes after the record's last
    field, where COPY reads it. Every record then ends in "\\n", whatever the file used.
    """
    quoted = False
    suffix = b""
    while lines := stream.readlines(block_bytes):
        out = []
        for line in lines:
            if not quoted:
                suffix = suffix_of(line)
            if line.count(b'"') & 1:
                quoted = not quoted
            out.append(line if quoted else line.rstrip(b"\r\n") + suffix)
        yield b"".join(out)


class OrderDatesFromFile:
    """The date suffix of each line of lineitem.csv, from orders.csv read alongside it.

    tpchgen writes the orders in key order and each order's lines together, in the same
    order: one forward pass over each file pairs them, with nothing held in memory at any
    scale. Keys are compared as the files' bytes (tpchgen writes them unquoted).
    """

    def __init__(self, orders: BinaryIO, *, date_column: int) -> None:
        self.orders = orders
        self.date_column = date_column
        # No line starts with a NUL byte: the first line reads orders.csv.
        self.key = b"\0"
        self.suffix = b""

    def __call__(self, line: bytes) -> bytes:
        if line.startswith(self.key):
            return self.suffix
        key = line[: line.find(b",") + 1]
        while key != self.key:
            row = self.orders.readline()
            if not row:
                raise DatasetError(
                    f"lineitem.csv has a line of order {key[:-1].decode(errors='replace')}, which "
                    "orders.csv does not list at that point: both files must be tpchgen's, of one "
                    "data set (orders in key order, each order's lines together in the same order)."
                )
            fields = row.split(b",", self.date_column + 1)
            self.key, self.suffix = fields[0] + b",", b"," + fields[self.date_column] + b"\n"
        return self.suffix


@contextmanager
def order_dates_from_file(path: Path) -> Iterator[OrderDatesFromFile]:
    """``OrderDatesFromFile`` over the orders file at ``path`` (its header skipped)."""
    orders = TABLES["orders"]
    if not path.is_file():
        raise DatasetError(f"{path} does not exist: line items take their order's date from it.")
    with path.open("rb") as stream:
        stream.readline()
        yield OrderDatesFromFile(stream, date_column=[name for _, name in orders.columns].index("order_date"))


def staged_order_dates(cursor: Any, *, staging: str, order_key_sql: str, filename: str) -> SuffixOf:
    """The date suffix of each staged line, in file order, read with one ``COPY … TO``.

    ``order_key_sql`` is the staged order key as a number (``s.`` is the staging table).
    Each date comes as COPY writes it, so the COPY that writes the lines reads it back
    unchanged. Equal dates share one bytes object: 8 bytes a line (a file of 200 MB, the
    upload limit, holds about 1.6 million lines).
    """
    qn = connection.ops.quote_name
    orders = Order._meta
    sql = (
        f"COPY (SELECT o.{qn(orders.get_field('order_date').column)} FROM {staging} s "  # noqa: S608
        f"JOIN {qn(orders.db_table)} o ON o.{qn(orders.pk.column)} = {order_key_sql} "
        "ORDER BY s.line) TO STDOUT"
    )
    shared: dict[bytes, bytes] = {}
    suffixes = []
    with cursor.copy(sql) as copy:
        for row in copy:
            row = bytes(row)
            suffix = shared.get(row)
            if suffix is None:
                suffix = shared[row] = b"," + row
            suffixes.append(suffix)
    remaining = iter(suffixes)

    def suffix_of(line: bytes) -> bytes:
        try:
            return next(remaining)
        except StopIteration:
            raise DatasetError(f"{filename} changed during the import (more rows than checked).") from None

    return suffix_of


def order_date_sql(order_key_sql: str) -> str:
    """SQL for the date of the order whose key is ``order_key_sql`` (a correlated subquery)."""
    qn = connection.ops.quote_name
    orders = Order._meta
    # Identifiers come from the models and are quoted; the key is SQL of the caller's.
    return (
        f"(SELECT o.{qn(orders.get_field('order_date').column)} FROM {qn(orders.db_table)} o "  # noqa: S608
        f"WHERE o.{qn(orders.pk.column)} = {order_key_sql})"
    )


def lineitem_order_dates_fill(*, first_id: int, last_id: int | None = None) -> int:
    """Give the line items with ids from ``first_id`` to ``last_id`` that have no order date
    their order's date; returns how many changed.

    Lines that have one are left alone (it is their order's: no service changes an order's
    date), which makes a second run change nothing.
    """
    qn = connection.ops.quote_name
    lines = qn(LineItem._meta.db_table)
    order_id = f"{lines}.{qn(LineItem._meta.get_field('order').column)}"
    order_date = qn(LineItem._meta.get_field("order_date").column)
    line_id = f"{lines}.{qn(LineItem._meta.pk.column)}"
    bounds, params = f"{line_id} >= %s", [first_id]
    if last_id is not None:
        bounds, params = f"{line_id} BETWEEN %s AND %s", [first_id, last_id]
    with connection.cursor() as cursor:
        # Identifiers come from the models and are quoted; values go as parameters.
        cursor.execute(
            f"UPDATE {lines} SET {order_date} = {order_date_sql(order_id)} "  # noqa: S608
            f"WHERE {bounds} AND {lines}.{order_date} IS NULL",
            params,
        )
        return cursor.rowcount


@dataclass(frozen=True)
class OrderDatesBackfilled:
    lines: int  # line items given their order's date
    batches: int
    seconds: float


def lineitem_order_dates_backfill(
    *, batch_size: int = BACKFILL_BATCH_SIZE, progress_factory: ProgressFactory | None = None
) -> OrderDatesBackfilled:
    """Give every line item without an order date its order's date, in id-range batches.

    1. Read the lowest and highest line-item id (the primary key's two ends: no scan).
    2. For each range of ``batch_size`` ids, in a transaction of its own, fill the lines
       of that range that have no date (``lineitem_order_dates_fill``): locks are held
       one batch at a time, and an interrupted run keeps the batches it finished.
    3. Lines written meanwhile have their date already (every writer gives it), so a run
       that started before them misses nothing, and a second run changes nothing.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size}).")
    started = time.perf_counter()
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min({qn(LineItem._meta.pk.column)}), max({qn(LineItem._meta.pk.column)}) "  # noqa: S608
            f"FROM {qn(LineItem._meta.db_table)}"
        )
        first, last = cursor.fetchone()
    if first is None:
        return OrderDatesBackfilled(0, 0, time.perf_counter() - started)
    total = last - first + 1
    lines = batches = 0
    with (progress_factory or progress_unshown)(TABLES["lineitem"].file, total) as progress:
        for start in range(first, last + 1, batch_size):
            end = min(start + batch_size - 1, last)
            with transaction.atomic():
                lines += lineitem_order_dates_fill(first_id=start, last_id=end)
            batches += 1
            progress.progress(end - first + 1, total, "giving line items their order's date")
    return OrderDatesBackfilled(lines, batches, time.perf_counter() - started)
