"""Importing CSV files in the TPC-H layout: every row checked, then all rows or none.

The service, on SQLite and PostgreSQL (the job: test_import_job.py; the command:
test_import_data.py). The files are tpchgen-cli's scale 0.01 (generated once per
session), some with one line broken.
"""

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import F

from apps.commerce.models import Customer, Dataset, LineItem, Order
from apps.commerce.services import TABLES, column_rules, csv_import, dataset_generate
from tests.commerce.files import broken, data_lines, tables_loaded


def lines_of(path: Path, count: int) -> list[str]:
    with path.open() as stream:
        return [next(stream) for _ in range(count)]


# --- The checks --------------------------------------------------------------


@pytest.mark.django_db
def test_bad_line_in_the_middle_imports_nothing_and_names_that_line(tpch_dir, customers_loaded, tmp_path):
    orders = broken(
        tpch_dir / "orders.csv",
        tmp_path / "orders.csv",
        line=5_000,
        pattern=r"\d{4}-\d\d-\d\d",
        replacement="1996-13-01",
    )

    outcome = csv_import(table="orders", path=orders)

    assert not outcome.imported
    assert Order.objects.count() == 0
    assert [(e.line, e.column) for e in outcome.errors] == [(5_000, "o_orderdate")]
    assert outcome.errors[0].message == "not a date (YYYY-MM-DD) (got `1996-13-01`)"
    assert outcome.message == (
        "Nothing was imported: orders.csv has 1 problem; the first is at line 5,000, column "
        "o_orderdate: not a date (YYYY-MM-DD) (got `1996-13-01`)."
    )


@pytest.mark.django_db
def test_correct_orders_file_imports_every_row_as_written(tpch_dir, customers_loaded):
    outcome = csv_import(table="orders", path=tpch_dir / "orders.csv")

    assert outcome.imported, outcome.message
    assert outcome.rows == data_lines(tpch_dir / "orders.csv") == Order.objects.count()
    # Line 2 of the file, field by field.
    order = Order.objects.get(pk=1)
    assert lines_of(tpch_dir / "orders.csv", 2)[1].startswith(
        f"1,{order.customer_id},{order.status},{order.total_price},{order.order_date:%Y-%m-%d},"
        f"{order.priority},{order.clerk},{order.ship_priority},"
    )


@pytest.mark.django_db
def test_importing_the_same_orders_twice_is_refused_with_a_clear_message(tpch_dir, customers_loaded):
    assert csv_import(table="orders", path=tpch_dir / "orders.csv").imported
    count = Order.objects.count()

    again = csv_import(table="orders", path=tpch_dir / "orders.csv")

    assert not again.imported
    assert Order.objects.count() == count
    assert again.errors[0].text == "line 2, column o_orderkey: Order 1 already exists"
    assert len(again.errors) == 20 and again.more_errors
    assert again.message.startswith("Nothing was imported: orders.csv has more than 20 problems; ")


@pytest.mark.django_db
def test_line_item_of_an_unknown_order_part_or_supplier_is_named(
    orders_references_loaded, tpch_dir, tmp_path
):
    source = tpch_dir / "lineitem.csv"
    lines = source.read_text().splitlines(keepends=True)
    lines[2] = re.sub(r"^\d+,", "9999999,", lines[2])  # line 3: l_orderkey
    lines[6] = re.sub(r"^(\d+),\d+,", r"\1,888888,", lines[6])  # line 7: l_partkey
    lines[9] = re.sub(r"^(\d+),(\d+),\d+,", r"\1,\2,777777,", lines[9])  # line 10: l_suppkey
    path = tmp_path / "lineitem.csv"
    path.write_text("".join(lines))

    outcome = csv_import(table="lineitem", path=path)

    assert not outcome.imported
    assert LineItem.objects.count() == 0
    assert [error.text for error in outcome.errors] == [
        "line 3, column l_orderkey: Order 9999999 does not exist",
        "line 7, column l_partkey: Part 888888 does not exist",
        "line 10, column l_suppkey: Supplier 777777 does not exist",
    ]


@pytest.mark.django_db
def test_imported_line_items_carry_their_orders_date(orders_references_loaded, tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(
        ",".join(TABLES["orders"].csv_columns)
        + "\n70001,1,O,100.00,1995-06-01,1-URGENT,Clerk#000000001,0,new\n"
        + "70002,2,O,200.00,1997-02-03,5-LOW,Clerk#000000002,0,new\n"
    )
    assert csv_import(table="orders", path=orders).imported
    # Lines of the orders just imported and of order 1, loaded before; with Windows line
    # ends, a comment holding a line break and quotes, and no line end at the very end.
    lineitem = tmp_path / "lineitem.csv"
    records = [
        ",".join(TABLES["lineitem"].csv_columns),
        '70001,1,1,1,1,10.00,0.00,0.00,N,O,1995-06-05,1995-06-06,1995-06-07,NONE,AIR,"two\r\nlines, ""q"""',
        "1,1,1,99,1,10.00,0.00,0.00,N,O,1996-01-05,1996-01-06,1996-01-07,NONE,AIR,plain",
        "70002,2,2,1,1,10.00,0.00,0.00,N,O,1997-02-05,1997-02-06,1997-02-07,NONE,AIR,plain",
    ]
    lineitem.write_bytes("\r\n".join(records).encode())

    outcome = csv_import(table="lineitem", path=lineitem)

    assert outcome.imported, outcome.message
    dates = dict(LineItem.objects.values_list("order_id", "order_date"))
    assert dates == {
        70001: datetime.date(1995, 6, 1),
        1: Order.objects.get(pk=1).order_date,
        70002: datetime.date(1997, 2, 3),
    }
    assert LineItem.objects.get(order_id=70001).comment == 'two\r\nlines, "q"'


@pytest.mark.django_db
def test_key_twice_in_the_file_names_both_lines(tpch_dir, customers_loaded, tmp_path):
    lines = (tpch_dir / "orders.csv").read_text().splitlines(keepends=True)[:11]
    lines.append(lines[3])  # line 12 repeats line 4
    key = lines[3].split(",")[0]
    path = tmp_path / "orders.csv"
    path.write_text("".join(lines))

    outcome = csv_import(table="orders", path=path)

    assert not outcome.imported
    assert [error.text for error in outcome.errors] == [
        f"line 12, column o_orderkey: Order {key} appears more than once in the file (first on line 4)"
    ]
    assert Order.objects.count() == 0


CUSTOMER_HEADER = "c_custkey,c_name,c_address,c_nationkey,c_phone,c_acctbal,c_mktsegment,c_comment\n"


@pytest.mark.django_db
def test_each_kind_of_bad_value_is_reported_in_plain_words(customers_loaded, tmp_path):
    rows = [
        "90001,Customer#90001,Somewhere,1,11-111-111-1111,10.00,BUILDING,fine",  # line 2: good
        "90002,,Somewhere,1,11-111-111-1111,10.00,BUILDING,x",  # 3: name empty
        "90003,Customer#90003,Somewhere,1,11-111-111-1111-0000-00,10.00,BUILDING,x",  # 4: phone too long
        "90004,Customer#90004,Somewhere,1,11-111-111-1111,10.00,SHIPPING,x",  # 5: segment
        "90005,Customer#90005,Somewhere,1,11-111-111-1111,ten,BUILDING,x",  # 6: balance
        "90006,Customer#90006,Somewhere,1,11-111-111-1111,10.005,BUILDING,x",  # 7: places
        "9x007,Customer#90007,Somewhere,1,11-111-111-1111,10.00,BUILDING,x",  # 8: key
        "90008,Customer#90008,Somewhere,1,11-111-111-1111,10.00,BUILDING,",  # 9: good (comment blank)
        "90009,Customer#90009,Somewhere,99999999999,11-111-111-1111,10.00,BUILDING,x",  # 10: range
    ]
    path = tmp_path / "customer.csv"
    path.write_text(CUSTOMER_HEADER + "\n".join(rows) + "\n")
    before = Customer.objects.count()

    outcome = csv_import(table="customers", path=path)

    assert not outcome.imported
    assert Customer.objects.count() == before
    texts = [error.text for error in outcome.errors]
    assert texts[:6] == [
        "line 3, column c_name: empty (a value is required)",
        "line 4, column c_phone: longer than 15 characters (23)",
        "line 5, column c_mktsegment: not one of AUTOMOBILE, BUILDING, FURNITURE, HOUSEHOLD, MACHINERY "
        "(got `SHIPPING`)",
        "line 6, column c_acctbal: not a number (got `ten`)",
        "line 7, column c_acctbal: more than 2 decimal places (got `10.005`)",
        "line 8, column c_custkey: not a whole number (got `9x007`)",
    ]
    assert texts[6].startswith("line 10, column c_nationkey: not a whole number from ")
    assert len(texts) == 7


@pytest.mark.django_db
def test_line_with_missing_columns_is_named(customers_loaded, tmp_path):
    path = tmp_path / "customer.csv"
    path.write_text(
        CUSTOMER_HEADER
        + "90001,Customer#90001,Somewhere,1,11-111-111-1111,10.00,BUILDING,x\n"
        + "90002,Customer#90002,Somewhere,1\n"
    )

    outcome = csv_import(table="customer", path=path)

    assert not outcome.imported
    assert outcome.errors[0].line == 3
    assert "columns" in outcome.errors[0].message
    assert not Customer.objects.filter(pk=90001).exists()


@pytest.mark.django_db
def test_file_of_another_table_is_refused_at_line_1(tpch_dir, customers_loaded):
    outcome = csv_import(table="orders", path=tpch_dir / "customer.csv")

    assert not outcome.imported
    assert outcome.errors[0].line == 1
    assert outcome.errors[0].message.startswith("expected the columns o_orderkey,o_custkey,")


@pytest.mark.django_db
def test_import_adds_to_the_recorded_data_set_counts(tpch_dir, customers_loaded):
    Dataset.objects.create(scale=Decimal("0.01"), row_counts={"orders": 0, "customer": 1500})

    outcome = csv_import(table="orders", path=tpch_dir / "orders.csv")

    assert Dataset.objects.get().row_counts == {"orders": outcome.rows, "customer": 1500}


@pytest.mark.django_db
def test_sql_and_python_rules_agree_on_tricky_values(requires_postgres):
    """On PostgreSQL the bad lines are found in SQL and worded in Python: the two must agree."""
    values = {
        "c_custkey": [
            "1",
            "+5",
            "-3",
            " 5",
            "5 ",
            "1_000",
            "",
            "9223372036854775807",
            "9223372036854775808",
            "12345678901234567890",
            "1.0",
            "0x10",
            "٣",
        ],
        "c_acctbal": [
            "0",
            "10.5",
            "10.50",
            "10.500",
            "10.505",
            "-.5",
            ".5",
            "5.",
            ".",
            "+1.25",
            "1e3",
            "9999999999999.99",
            "10000000000000",
            "0000000000000000001.10",
            " 1.00",
            "NaN",
            "-0",
        ],
        "c_name": ["", "x", "x" * 25, "x" * 26, "é" * 25, "é" * 26],
        "c_mktsegment": ["BUILDING", "building", "", "BUILDING "],
    }
    dates = [
        "1996-01-02",
        "1996-13-01",
        "1996-02-29",
        "1997-02-29",
        "2000-02-29",
        "1900-02-29",
        "0000-01-01",
        "1996-04-31",
        "1996-04-30",
        "1996-1-02",
        "1996-01-02T00",
        "19960102",
        "1996-00-10",
        "1996-12-00",
        "1996-12-32",
        "1996-12-31",
    ]
    rules = {rule.csv: rule for rule in column_rules(TABLES["customer"])}
    rules["o_orderdate"] = next(r for r in column_rules(TABLES["orders"]) if r.csv == "o_orderdate")
    values["o_orderdate"] = dates

    disagreements = []
    with connection.cursor() as cursor:
        for column, samples in values.items():
            rule = rules[column]
            condition, params = rule.invalid_sql("%s::text")
            for sample in samples:
                cursor.execute(f"SELECT {condition}", _params_for(condition, sample, params))
                invalid_in_sql = cursor.fetchone()[0]
                try:
                    rule.convert(sample)
                    invalid_in_python = False
                except ValueError:
                    invalid_in_python = True
                if invalid_in_sql != invalid_in_python:
                    disagreements.append((column, sample, invalid_in_sql, invalid_in_python))
    assert disagreements == []


def _params_for(condition: str, sample: str, params: list) -> list:
    """Parameters for a condition in which the value placeholder appears several times."""
    result, rest = [], list(params)
    for match in re.finditer(r"%s(::text)?", condition):
        result.append(sample if match.group(1) else rest.pop(0))
    return result


# --- Scale: 600,000 line items (PostgreSQL, as CI runs it) ------------------------------------


@pytest.fixture(scope="session")
def tpch_dir_0_1(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tpch-import-0.1")
    dataset_generate(scale=Decimal("0.1"), directory=folder)
    return folder


@pytest.mark.django_db
def test_correct_file_of_600000_line_items_imports_completely(requires_postgres, tpch_dir_0_1):
    tables_loaded(tpch_dir_0_1, "region", "nation", "supplier", "part", "customer", "orders")
    expected = data_lines(tpch_dir_0_1 / "lineitem.csv")
    assert expected > 600_000

    outcome = csv_import(table="lineitem", path=tpch_dir_0_1 / "lineitem.csv")

    assert outcome.imported, outcome.message
    assert outcome.rows == expected == LineItem.objects.count()
    assert LineItem.objects.filter(order_date=F("order__order_date")).count() == expected
    last = (tpch_dir_0_1 / "lineitem.csv").read_text().rstrip("\n").rsplit("\n", 1)[1].split(",")
    assert LineItem.objects.filter(order_id=int(last[0]), line_number=int(last[3])).exists()
    # Lines are stored in file order (ids follow the lines).
    first_id = LineItem.objects.order_by("id").values_list("order_id", "line_number").first()
    assert first_id == (1, 1)
