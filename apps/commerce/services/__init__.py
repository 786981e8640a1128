"""Writes to the commerce tables: the TPC-H loader and the CSV import.

- ``tables``: which tpchgen CSV file fills which table, column by column.
- ``loading``: the shared loading service, one file into one table (``tpch_table_load``):
  the column rules, PostgreSQL's COPY path and SQLite's ``executemany`` path.
- ``progress``: how these services report progress (core's ``Progress``, one per file).
- ``tpch``: generating TPC-H data and loading a whole data set (``load_tpch``).
- ``importing``: importing a person's CSV file, validated, as a job (``import_data``).
- ``order_dates``: line items' copy of their order's date (the partition key), written
  with each line and backfilled for older lines (``backfill_lineitem_order_date``).
"""

from apps.commerce.services.importing import (
    IMPORT_JOB_KIND,
    IMPORT_TABLES,
    ImportInputError,
    ImportOutcome,
    ImportTooLarge,
    csv_import,
    import_enqueue,
    import_table,
    import_upload_delete,
    import_upload_import,
    import_uploads_prune,
)
from apps.commerce.services.loading import (
    MAX_ERRORS,
    LoadRejected,
    RowError,
    column_rules,
    tpch_table_load,
)
from apps.commerce.services.order_dates import (
    BACKFILL_BATCH_SIZE,
    OrderDatesBackfilled,
    lineitem_order_dates_backfill,
)
from apps.commerce.services.progress import ProgressFactory
from apps.commerce.services.tables import TABLES, DatasetError, TpchTable, first_line
from apps.commerce.services.tpch import (
    DatasetLoadResult,
    LoadStatus,
    database_check,
    dataset_generate,
    dataset_load,
    dataset_scale,
    generator_path,
    scale_text,
)

__all__ = [
    "BACKFILL_BATCH_SIZE",
    "IMPORT_JOB_KIND",
    "IMPORT_TABLES",
    "MAX_ERRORS",
    "TABLES",
    "DatasetError",
    "DatasetLoadResult",
    "ImportInputError",
    "ImportOutcome",
    "ImportTooLarge",
    "LoadRejected",
    "LoadStatus",
    "OrderDatesBackfilled",
    "ProgressFactory",
    "RowError",
    "TpchTable",
    "column_rules",
    "csv_import",
    "database_check",
    "dataset_generate",
    "dataset_load",
    "dataset_scale",
    "first_line",
    "generator_path",
    "import_enqueue",
    "import_table",
    "import_upload_delete",
    "import_upload_import",
    "import_uploads_prune",
    "lineitem_order_dates_backfill",
    "scale_text",
    "tpch_table_load",
]
