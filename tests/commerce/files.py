"""CSV files and stored uploads, as the commerce tests read, break and load them."""

import re
from pathlib import Path

from django.core.files.storage import default_storage

from apps.commerce.services import TABLES, tpch_table_load


def data_lines(path: Path) -> int:
    """Rows of a CSV file: its lines minus the header."""
    with path.open("rb") as stream:
        return sum(1 for _ in stream) - 1


def broken(source: Path, target: Path, *, line: int, pattern: str, replacement: str) -> Path:
    """A copy of ``source`` with ``pattern`` replaced once on one line (``target`` may be ``source``)."""
    lines = source.read_text().splitlines(keepends=True)
    lines[line - 1] = re.sub(pattern, replacement, lines[line - 1], count=1)
    target.write_text("".join(lines))
    return target


def stored_uploads() -> list[str]:
    """The names of the import uploads in storage."""
    try:
        return default_storage.listdir("imports")[1]
    except FileNotFoundError:
        return []


def tables_loaded(folder: Path, *names: str) -> None:
    """The named tables, loaded from ``folder`` as load_tpch would."""
    for name in names:
        tpch_table_load(table=TABLES[name], path=folder / TABLES[name].filename)
