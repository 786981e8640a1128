"""Writes to the commerce tables: the TPC-H loader and the CSV import.

- ``tables``: which tpchgen CSV file fills which table, column by column.
- ``loading``: the shared loading service, one file into one table (``tpch_table_load``).
- ``tpch``: generating TPC-H data and loading a whole data set (``load_tpch``).
- ``importing``: importing a person's CSV file, validated, as a job (``import_data``).
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
    Progress,
    ProgressFactory,
    RowError,
    column_rules,
    tpch_table_load,
)
from apps.commerce.services.tables import TABLES, DatasetError, TpchTable
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
    "Progress",
    "ProgressFactory",
    "RowError",
    "TpchTable",
    "column_rules",
    "csv_import",
    "database_check",
    "dataset_generate",
    "dataset_load",
    "dataset_scale",
    "generator_path",
    "import_enqueue",
    "import_table",
    "import_upload_delete",
    "import_upload_import",
    "import_uploads_prune",
    "scale_text",
    "tpch_table_load",
]
