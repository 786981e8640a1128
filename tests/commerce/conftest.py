"""Fixtures of the commerce tests: tpchgen-cli's files, tables loaded from them, uploads."""

import pytest

from tests.commerce.files import tables_loaded


@pytest.fixture
def customers_loaded(tpch_dir):
    tables_loaded(tpch_dir, "region", "nation", "customer")


@pytest.fixture
def orders_references_loaded(tpch_dir):
    tables_loaded(tpch_dir, "region", "nation", "supplier", "part", "customer", "orders")
