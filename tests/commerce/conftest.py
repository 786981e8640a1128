"""Fixtures of the commerce tests: tpchgen-cli's files, tables loaded from them, uploads."""

from decimal import Decimal
from pathlib import Path

import pytest

from apps.commerce.services import dataset_generate
from tests.commerce.files import tables_loaded


@pytest.fixture(scope="session")
def tpch_dir(tmp_path_factory) -> Path:
    """tpchgen-cli's CSV files of scale 0.01, generated once per session (tests only read them)."""
    folder = tmp_path_factory.mktemp("tpch-0.01")
    dataset_generate(scale=Decimal("0.01"), directory=folder)
    return folder


@pytest.fixture
def customers_loaded(tpch_dir):
    tables_loaded(tpch_dir, "region", "nation", "customer")


@pytest.fixture
def orders_references_loaded(tpch_dir):
    tables_loaded(tpch_dir, "region", "nation", "supplier", "part", "customer", "orders")


@pytest.fixture
def media(settings, tmp_path):
    """Stored uploads go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
