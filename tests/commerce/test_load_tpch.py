"""`manage.py load_tpch`: exact, all-or-nothing loads of tpchgen-cli's data.

The CSV files of scale 0.01 are generated once per session; each test loads them with
--from-dir. Full loads are few (three, plus one on PostgreSQL): the other tests start
from a small "earlier data set" and check that it survives refusals and failures.
"""

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F

from apps.commerce.models import Dataset, LineItem, Nation, Region
from apps.commerce.services import TABLES
from tests.commerce.files import broken, data_lines

ROOT = Path(__file__).resolve().parents[2]


def csv_row_counts(folder: Path) -> dict[str, int]:
    return {name: data_lines(folder / table.filename) for name, table in TABLES.items()}


def table_counts() -> dict[str, int]:
    return {name: table.model.objects.count() for name, table in TABLES.items()}


def snapshot() -> dict:
    return {
        "counts": table_counts(),
        "regions": list(Region.objects.values_list("id", "name")),
        "datasets": list(Dataset.objects.values_list("scale", "row_counts", "loaded_at")),
    }


def load_tpch(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_tpch", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def earlier_data():
    """A small data set recorded as scale 0.02, standing in for whatever was there before."""
    region = Region.objects.create(id=99, name="ATLANTIS")
    Nation.objects.create(id=99, name="POSEIDONIA", region=region)
    Dataset.objects.create(scale=Decimal("0.02"), row_counts={"region": 1, "nation": 1})
    return snapshot()


def broken_copy(source: Path, target: Path, *, file: str, line: int, pattern: str, replacement: str) -> Path:
    """A copy of the CSV folder where one line of one file has ``pattern`` replaced once."""
    shutil.copytree(source, target)
    broken(target / file, target / file, line=line, pattern=pattern, replacement=replacement)
    return target


@pytest.mark.django_db(transaction=True)
def test_load_yields_exactly_the_rows_tpchgen_wrote(tpch_dir):
    out, err = load_tpch("--scale", "0.01", "--from-dir", str(tpch_dir))

    expected = csv_row_counts(tpch_dir)
    assert table_counts() == expected
    dataset = Dataset.objects.get()
    assert dataset.scale == Decimal("0.01")
    assert dataset.row_counts == expected
    total = sum(expected.values())
    assert out.startswith(f"Loaded TPC-H scale 0.01: {total:,} rows in ")
    assert f"rows/s) into {connection.vendor}" in out
    # One progress bar per table, on stderr.
    assert [line.split()[0] for line in err.splitlines()] == list(TABLES)


@pytest.mark.django_db
def test_second_run_without_replace_changes_nothing_and_says_why(tpch_dir, settings):
    load_tpch("--scale", "0.01", "--from-dir", str(tpch_dir))
    before = snapshot()
    last_line_item = LineItem.objects.order_by("-id").values_list("id", flat=True).first()
    # Nothing is generated either: the generator is not even needed.
    settings.TPCH_GENERATOR = "tpchgen-cli-not-installed"

    out, _ = load_tpch("--scale", "0.01")

    assert snapshot() == before
    assert LineItem.objects.order_by("-id").values_list("id", flat=True).first() == last_line_item
    assert "TPC-H scale 0.01 is already loaded (86,805 rows); nothing changed." in out
    assert "--replace" in out


@pytest.mark.django_db
def test_replace_swaps_earlier_data_for_the_requested_scale(tpch_dir, earlier_data):
    out, _ = load_tpch("--scale", "0.01", "--replace", "--from-dir", str(tpch_dir))

    assert table_counts() == csv_row_counts(tpch_dir)
    assert not Region.objects.filter(name="ATLANTIS").exists()
    assert list(Dataset.objects.values_list("scale", flat=True)) == [Decimal("0.01")]
    assert out.startswith("Loaded TPC-H scale 0.01:")


@pytest.mark.django_db
def test_different_scale_is_refused_and_tables_untouched(tpch_dir, earlier_data):
    with pytest.raises(CommandError) as refused:
        load_tpch("--scale", "0.01", "--from-dir", str(tpch_dir))

    assert str(refused.value) == "Tables hold TPC-H scale 0.02; use --replace to load scale 0.01 instead."
    assert snapshot() == earlier_data


@pytest.mark.django_db
def test_data_no_load_recorded_is_refused_without_replace(tpch_dir):
    Region.objects.create(id=7, name="HAND-MADE")

    with pytest.raises(CommandError, match="no TPC-H load recorded; use --replace"):
        load_tpch("--scale", "0.01", "--from-dir", str(tpch_dir))

    assert table_counts()["region"] == 1


@pytest.mark.django_db
def test_if_empty_leaves_present_data_alone(tpch_dir, earlier_data):
    out, _ = load_tpch("--scale", "0.01", "--if-empty", "--from-dir", str(tpch_dir))

    assert "already hold data" in out
    assert snapshot() == earlier_data


@pytest.mark.parametrize("scale", ["-1", "0", "abc"])
def test_scale_that_is_not_positive_is_refused(scale):
    with pytest.raises(CommandError, match=r"^Scale must be a number greater than 0"):
        load_tpch("--scale", scale)


@pytest.mark.django_db
def test_missing_generator_names_the_tool_and_leaves_tables_untouched(earlier_data, settings):
    settings.TPCH_GENERATOR = "tpchgen-cli-not-installed"

    with pytest.raises(CommandError) as failed:
        load_tpch("--scale", "0.01", "--replace")

    message = str(failed.value)
    assert "'tpchgen-cli-not-installed' was not found" in message
    assert "pip install tpchgen-cli" in message
    assert "\n" not in message
    assert snapshot() == earlier_data


@pytest.mark.django_db
def test_bad_date_midway_loads_nothing_and_keeps_earlier_data(tpch_dir, earlier_data, tmp_path):
    # Line 30,001 of lineitem.csv: half of the data set is in before it fails.
    broken = broken_copy(
        tpch_dir,
        tmp_path / "broken",
        file="lineitem.csv",
        line=30_001,
        pattern=r"\d{4}-\d\d-\d\d",
        replacement="1996-13-01",
    )

    with pytest.raises(CommandError) as failed:
        load_tpch("--scale", "0.01", "--replace", "--from-dir", str(broken))

    message = str(failed.value)
    assert message.startswith("Import failed at lineitem.csv line 30,001, column l_shipdate:")
    assert "1996-13-01" in message
    assert snapshot() == earlier_data


@pytest.mark.django_db
def test_line_item_of_unknown_part_loads_nothing(tpch_dir, tmp_path):
    # The second field of a lineitem row is l_partkey; part 999999 does not exist.
    broken = broken_copy(
        tpch_dir,
        tmp_path / "broken",
        file="lineitem.csv",
        line=2,
        pattern=r"^(\d+),\d+,",
        replacement=r"\1,999999,",
    )

    with pytest.raises(CommandError) as failed:
        load_tpch("--scale", "0.01", "--from-dir", str(broken))

    assert "999999" in str(failed.value)
    assert table_counts() == dict.fromkeys(TABLES, 0)
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_every_loaded_line_item_carries_its_orders_date(tpch_dir):
    load_tpch("--scale", "0.01", "--from-dir", str(tpch_dir))

    lines = csv_row_counts(tpch_dir)["lineitem"]
    assert not LineItem.objects.filter(order_date__isnull=True).exists()
    assert LineItem.objects.filter(order_date=F("order__order_date")).count() == lines


@pytest.mark.django_db
def test_line_item_of_an_order_missing_from_orders_csv_loads_nothing(tpch_dir, tmp_path):
    # Line 2 is order 1's first line; order 9999999 is in neither orders.csv nor the table.
    broken = broken_copy(
        tpch_dir, tmp_path / "broken", file="lineitem.csv", line=2, pattern=r"^\d+,", replacement="9999999,"
    )

    with pytest.raises(CommandError) as failed:
        load_tpch("--scale", "0.01", "--from-dir", str(broken))

    assert "9999999" in str(failed.value)
    assert "\n" not in str(failed.value)
    assert table_counts() == dict.fromkeys(TABLES, 0)


def postgres_schema_objects() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid::regclass::text LIKE 'commerce\\_%%'
            UNION ALL
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid::regclass::text LIKE 'commerce\\_%%'
            ORDER BY 1, 2
            """
        )
        return cursor.fetchall()


@pytest.mark.django_db
def test_postgres_load_rebuilds_the_same_indexes_and_constraints(requires_postgres, tpch_dir):
    before = postgres_schema_objects()
    assert any("FOREIGN KEY" in definition for _, definition in before)

    load_tpch("--scale", "0.01", "--from-dir", str(tpch_dir))

    assert postgres_schema_objects() == before


@pytest.mark.django_db
def test_table_of_another_app_referring_to_commerce_is_named_and_nothing_is_emptied(
    requires_postgres, tpch_dir, earlier_data
):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE elsewhere_note (region_id integer REFERENCES commerce_region (id))")

    with pytest.raises(CommandError) as refused:
        load_tpch("--scale", "0.01", "--replace", "--from-dir", str(tpch_dir))

    assert str(refused.value) == (
        "elsewhere_note has a foreign key to commerce_region, so the commerce tables cannot be emptied "
        "(load_tpch empties no other table): drop that foreign key first."
    )
    assert snapshot() == earlier_data


def test_unreachable_database_fails_in_one_readable_line():
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/x",
        "DEBUG": "0",
        "SECRET_KEY": "x",
    }
    env.pop("DATABASE_REPLICA_URLS", None)

    finished = subprocess.run(
        [sys.executable, "manage.py", "load_tpch", "--scale", "0.01"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode != 0
    assert finished.stderr.count("\n") == 1, finished.stderr
    assert "Cannot connect to the database" in finished.stderr
    assert "Traceback" not in finished.stderr
