"""TPC-H data for report tests: generated once per session, loaded once per module.

The modules that need data request ``tpch``: it loads scale 0.01 (committed, outside
the tests' transactions) when the module starts and empties the commerce tables when it
ends, so that no other test module ever sees these rows. Tests in those modules use the
plain ``db`` fixture (rolled back), which leaves the loaded rows alone.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management.color import no_style
from django.db import connection

from apps.commerce.models import Dataset
from apps.commerce.services import TABLES, dataset_generate, dataset_load


@pytest.fixture(scope="session")
def tpch_csv_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tpch-reports-0.01")
    dataset_generate(scale=Decimal("0.01"), directory=folder)
    return folder


def commerce_tables_empty() -> None:
    # Referencing tables first: SQLite deletes one table after the other.
    tables = [Dataset._meta.db_table] + [table.model._meta.db_table for table in reversed(TABLES.values())]
    statements = connection.ops.sql_flush(no_style(), tables, allow_cascade=False)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@pytest.fixture(scope="module")
def tpch(django_db_setup, django_db_blocker, tpch_csv_dir):
    with django_db_blocker.unblock():
        dataset_load(scale="0.01", replace=True, directory=tpch_csv_dir)
    yield
    with django_db_blocker.unblock():
        commerce_tables_empty()
