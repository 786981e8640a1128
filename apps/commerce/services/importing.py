"""Importing a CSV file in the TPC-H column layout into one table, checked, all or nothing.

The file goes through the same loading service as ``load_tpch`` (``tpch_table_load``),
with every row validated first (see ``loading``). Uploads are stored under
``imports/`` in the default storage and imported by the ``commerce.import_csv`` job;
a stored upload is deleted once its import has an outcome (imported or rejected), and
uploads left behind (a job that died) are pruned after IMPORT_UPLOAD_RETENTION_DAYS.
"""

import csv
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from apps.commerce.models import Dataset
from apps.commerce.services.loading import MAX_ERRORS, LoadRejected, RowError, tpch_table_load
from apps.commerce.services.progress import ProgressFactory
from apps.commerce.services.tables import TABLES, DatasetError, TpchTable, first_line
from apps.jobs.models import Job
from apps.jobs.services import enqueue

IMPORT_JOB_KIND = "commerce.import_csv"
# The tables a person may import into (the list), by tpchgen file name.
IMPORT_TABLES = ("customer", "orders", "lineitem", "part")
_TABLE_ALIASES = {
    "customers": "customer",
    "order": "orders",
    "lineitems": "lineitem",
    "line_items": "lineitem",
    "line-items": "lineitem",
    "parts": "part",
}
UPLOAD_DIRECTORY = "imports"
UPLOAD_NAME = re.compile(rf"{UPLOAD_DIRECTORY}/[0-9a-f]{{32}}\.csv")
# Bytes of an upload read to check its first line before storing it.
HEADER_PEEK_BYTES = 64 * 1024


class ImportInputError(DatasetError):
    """An import that cannot start (unknown table, not a CSV of that table, file gone)."""


class ImportTooLarge(ImportInputError):
    """An upload over IMPORT_MAX_UPLOAD_BYTES."""


@dataclass
class ImportOutcome:
    """What an import did: all rows imported, or none and why."""

    table: TpchTable
    filename: str
    imported: bool
    rows: int
    seconds: float
    errors: list[RowError] = field(default_factory=list)
    more_errors: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def message(self) -> str:
        if self.imported:
            meta = self.table.model._meta
            noun = meta.verbose_name if self.rows == 1 else meta.verbose_name_plural
            return f"Imported {self.rows:,} {noun} from {self.filename} in {self.seconds:.1f} s."
        count = len(self.errors)
        problems = (
            f"more than {count} problems" if self.more_errors else f"{count} problem{'s' * (count != 1)}"
        )
        first = self.errors[0].text
        return f"Nothing was imported: {self.filename} has {problems}; the first is at {first}."

    def as_result(self) -> dict[str, Any]:
        """The job's result (JSON)."""
        return {
            "table": self.table.file,
            "file": self.filename,
            "imported": self.imported,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "message": self.message,
            "errors": [error.as_dict() for error in self.errors],
            "more_errors": self.more_errors,
        }


def import_table(name: str) -> TpchTable:
    """The importable table called ``name`` (tpchgen's file name, or a plural like "customers")."""
    key = name.strip().lower()
    key = _TABLE_ALIASES.get(key, key)
    if key not in IMPORT_TABLES:
        raise ImportInputError(f"Unknown table {name!r}: choose one of {', '.join(IMPORT_TABLES)}.")
    return TABLES[key]


def csv_import(
    *,
    table: str | TpchTable,
    path: Path,
    filename: str = "",
    progress_factory: ProgressFactory | None = None,
    max_errors: int = MAX_ERRORS,
) -> ImportOutcome:
    """Check every row of ``path`` and append all of them to ``table``, or none.

    1. Lock the table against other writers (readers go on), so that the duplicate
       checks stay true until the commit.
    2. Load through the shared loading service with ``validate=True``; a bad file
       raises ``LoadRejected`` and everything is rolled back.
    3. Run the deferred foreign-key checks now (one line on a conflict), and count the
       rows in the recorded data set.
    """
    spec = table if isinstance(table, TpchTable) else import_table(table)
    filename = filename or path.name
    started = time.perf_counter()
    try:
        with transaction.atomic():
            _table_lock(spec)
            rows = tpch_table_load(
                table=spec, path=path, progress_factory=progress_factory, validate=True, max_errors=max_errors
            )
            _deferred_constraints_check(spec)
            _dataset_counts_add(spec, rows)
    except LoadRejected as exc:
        return ImportOutcome(
            spec, filename, False, 0, time.perf_counter() - started, exc.errors, more_errors=exc.more
        )
    return ImportOutcome(spec, filename, True, rows, time.perf_counter() - started)


def import_enqueue(*, table: str, file: UploadedFile, owner: AbstractBaseUser) -> Job:
    """Store an uploaded file and queue its import as a job owned by ``owner``.

    Checked before anything is stored: the table, the size, and the first line (the
    file must be a CSV of that table's columns).
    """
    spec = import_table(table)
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if file.size is not None and file.size > limit:
        raise ImportTooLarge(
            f"The file is {filesizeformat(file.size)}, more than the upload limit of {filesizeformat(limit)}."
        )
    _upload_header_check(spec, file)
    name = default_storage.save(f"{UPLOAD_DIRECTORY}/{uuid.uuid4().hex}.csv", file)
    try:
        with transaction.atomic():
            return enqueue(
                IMPORT_JOB_KIND,
                params={"table": spec.file, "upload": name, "filename": (file.name or "")[-200:]},
                owner=owner,
            )
    except BaseException:
        import_upload_delete(name=name)
        raise


def import_upload_import(
    *, table: str, upload: str, filename: str = "", progress_factory: ProgressFactory | None = None
) -> ImportOutcome:
    """Import a stored upload (the job's work); the upload is deleted once there is an outcome.

    A failure (database down, worker killed) keeps it, so that the job's retry can run.
    """
    if not UPLOAD_NAME.fullmatch(upload):
        raise ImportInputError(f"{upload!r} is not the name of a stored upload.")
    if not default_storage.exists(upload):
        raise ImportInputError(f"The upload {filename or upload} is no longer stored; upload the file again.")
    with _local_file(upload) as path:
        outcome = csv_import(
            table=table, path=path, filename=filename or path.name, progress_factory=progress_factory
        )
    import_upload_delete(name=upload)
    return outcome


def import_upload_delete(*, name: str) -> None:
    if UPLOAD_NAME.fullmatch(name):
        default_storage.delete(name)


def import_uploads_prune(*, older_than: timedelta | None = None) -> int:
    """Delete stored uploads older than ``older_than`` (default IMPORT_UPLOAD_RETENTION_DAYS)."""
    older_than = (
        older_than if older_than is not None else timedelta(days=settings.IMPORT_UPLOAD_RETENTION_DAYS)
    )
    cutoff = timezone.now() - older_than
    try:
        _, files = default_storage.listdir(UPLOAD_DIRECTORY)
    except FileNotFoundError:
        return 0
    deleted = 0
    for file in files:
        name = f"{UPLOAD_DIRECTORY}/{file}"
        if UPLOAD_NAME.fullmatch(name) and default_storage.get_modified_time(name) < cutoff:
            default_storage.delete(name)
            deleted += 1
    return deleted


# --- internals -----------------------------------------------------------------------


def _table_lock(table: TpchTable) -> None:
    # SHARE ROW EXCLUSIVE: one writer at a time (another import, load_tpch), reads go on.
    # (SQLite's IMMEDIATE transactions already admit one writer at a time.)
    if connection.vendor == "postgresql":
        name = connection.ops.quote_name(table.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE")


def _deferred_constraints_check(table: TpchTable) -> None:
    """The foreign keys are checked at commit; check them here to report a conflict in one line.

    The loading service already checked every reference; this only fails if a referenced
    row was deleted meanwhile.
    """
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    except IntegrityError as exc:
        raise ImportInputError(
            f"{table.filename} could not be imported: {first_line(exc)} (changed by someone else meanwhile)."
        ) from None


def _dataset_counts_add(table: TpchTable, rows: int) -> None:
    # The recorded data set keeps counting what the tables hold.
    dataset = Dataset.objects.order_by("-loaded_at").first()
    if dataset is None or not rows:
        return
    counts = dict(dataset.row_counts)
    counts[table.file] = counts.get(table.file, 0) + rows
    Dataset.objects.filter(pk=dataset.pk).update(row_counts=counts)


def _upload_header_check(table: TpchTable, file: UploadedFile) -> None:
    file.seek(0)
    head = file.read(HEADER_PEEK_BYTES)
    file.seek(0)
    if isinstance(head, str):
        head = head.encode()
    if not head.strip():
        raise ImportInputError("The file is empty.")
    first = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace").removeprefix("\ufeff")
    columns = next(csv.reader([first]), [])
    if columns != table.csv_columns:
        shown = first if len(first) <= 200 else first[:199] + "…"
        raise ImportInputError(
            f"This is not a CSV file of the {table.file} table: its first line must be the column names "
            f"{','.join(table.csv_columns)} (got {shown!r})."
        )


@contextmanager
def _local_file(name: str) -> Iterator[Path]:
    """A path to the stored upload: the storage's own file, or a temporary copy of it."""
    try:
        local = default_storage.path(name)
    except NotImplementedError:
        local = None
    if local is not None:
        yield Path(local)
        return
    with (
        tempfile.NamedTemporaryFile(prefix="import-", suffix=".csv") as copy,
        default_storage.open(name) as source,
    ):
        shutil.copyfileobj(source, copy, length=1 << 20)
        copy.flush()
        yield Path(copy.name)
