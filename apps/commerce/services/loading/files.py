"""Reading a tpchgen-layout CSV file: its header, its size in rows, its bytes in blocks."""

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from apps.commerce.services.loading.rules import LoadRejected, RowError
from apps.commerce.services.tables import TpchTable

# COPY is fed in blocks this large: big enough that Python's per-call cost vanishes.
COPY_BLOCK_BYTES = 1 << 20


def data_lines(path: Path) -> int:
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


def header_parsed(raw: bytes) -> list[str]:
    # A spreadsheet may save a byte-order mark before the first column name.
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    return next(csv.reader([text]), [])


def header_check(table: TpchTable, header: list[str]) -> None:
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


def file_blocks(stream: BinaryIO) -> Iterator[bytes]:
    while block := stream.read(COPY_BLOCK_BYTES):
        yield block


def line_ended(header: bytes) -> bytes:
    # COPY takes the line ending of the first line for the whole file, and dated
    # records end in "\n".
    return header.rstrip(b"\r\n") + b"\n"


def record_batches(reader: Iterator[list[str]], size: int) -> Iterator[list[list[str]]]:
    batch: list[list[str]] = []
    for record in reader:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
