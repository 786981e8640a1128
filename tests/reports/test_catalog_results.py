"""Each report's output equals an independent plain-SQL answer to the same question.

The data is TPC-H scale 0.01 from tpchgen-cli. The expected rows come from SQL written
here in the specification's own style (comma joins, dates as literals computed apart
from the catalog's code); the report's rows are read back from the CSV file it writes.
PostgreSQL's numerics are exact and compared exactly; SQLite computes in floating point,
so there numbers are compared to a relative 1e-9.
"""

import csv
import datetime
import math
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from apps.reports import services
from apps.reports.catalog import REPORTS, ColumnKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tpch")]


def report_csv(tmp_path: Path, name: str, params: dict | None = None) -> list[list[str]]:
    definition, clean, _ = services.report_request_validated(report=name, params=params, format="csv")
    path = tmp_path / f"{name}.csv"
    stats = services.report_file_write(definition=definition, params=clean, format="csv", path=path)
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert stats.rows == len(rows) - 1
    return rows


def expected(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def same_number(got: str, want) -> bool:
    if want is None:
        return got == ""
    if connection.vendor == "postgresql":
        return Decimal(got) == Decimal(str(want))
    return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-6)


def assert_rows_equal(name: str, got: list[list[str]], want: list[tuple]) -> None:
    columns = REPORTS[name].columns
    assert got[0] == [column.name for column in columns]
    body = got[1:]
    assert len(body) == len(want), f"{name}: {len(body)} rows, expected {len(want)}"
    assert want, f"{name}: the parameters chosen must select some rows"
    for index, (row, want_row) in enumerate(zip(body, want, strict=True)):
        for column, cell, value in zip(columns, row, want_row, strict=True):
            if column.kind in (ColumnKind.DECIMAL, ColumnKind.INTEGER):
                assert same_number(cell, value), f"{name} row {index + 1} {column.name}: {cell} != {value}"
            elif column.kind == ColumnKind.DATE:
                assert cell == str(value)[:10], f"{name} row {index + 1} {column.name}: {cell} != {value}"
            else:
                assert cell == value, f"{name} row {index + 1} {column.name}: {cell!r} != {value!r}"


def iso(day: datetime.date) -> str:
    return day.isoformat()


@pytest.mark.parametrize("delta", [None, 60, 120])
def test_pricing_summary_matches_q1(tmp_path, delta):
    params = {} if delta is None else {"delta": delta}
    cutoff = datetime.date(1998, 12, 1) - datetime.timedelta(days=90 if delta is None else delta)
    want = expected(
        """
        select return_flag, line_status, sum(quantity), sum(extended_price),
               sum(extended_price * (1 - discount)), sum(extended_price * (1 - discount) * (1 + tax)),
               avg(quantity), avg(extended_price), avg(discount), count(*)
        from commerce_lineitem where ship_date <= %s
        group by return_flag, line_status order by return_flag, line_status
        """,
        [iso(cutoff)],
    )
    assert_rows_equal("pricing_summary", report_csv(tmp_path, "pricing_summary", params), want)


def test_pricing_summary_defaults_are_the_validation_values():
    assert REPORTS["pricing_summary"].defaults() == {"delta": 90}
    assert REPORTS["shipping_priority"].defaults() == {"segment": "BUILDING", "date": "1995-03-15"}
    assert REPORTS["local_supplier_volume"].defaults() == {"region": "ASIA", "date": "1994-01-01"}
    assert REPORTS["forecast_revenue_change"].defaults() == {
        "date": "1994-01-01",
        "discount": "0.06",
        "quantity": 24,
    }
    assert REPORTS["returned_items"].defaults() == {"date": "1993-10-01"}
    assert REPORTS["large_volume_customers"].defaults() == {"quantity": 300}


@pytest.mark.parametrize(
    ("params", "segment", "day"),
    [
        ({}, "BUILDING", "1995-03-15"),
        ({"segment": "MACHINERY", "date": "1995-03-31"}, "MACHINERY", "1995-03-31"),
    ],
)
def test_shipping_priority_matches_q3(tmp_path, params, segment, day):
    want = expected(
        """
        select l.order_id, sum(l.extended_price * (1 - l.discount)) as revenue, o.order_date, o.ship_priority
        from commerce_customer c, commerce_order o, commerce_lineitem l
        where c.market_segment = %s and c.id = o.customer_id and l.order_id = o.id
          and o.order_date < %s and l.ship_date > %s
        group by l.order_id, o.order_date, o.ship_priority
        order by revenue desc, o.order_date, l.order_id
        limit 10
        """,
        [segment, day, day],
    )
    assert_rows_equal("shipping_priority", report_csv(tmp_path, "shipping_priority", params), want)


@pytest.mark.parametrize(
    ("params", "region", "start", "end"),
    [
        ({}, "ASIA", "1994-01-01", "1995-01-01"),
        ({"region": "AMERICA", "date": "1997-01-01"}, "AMERICA", "1997-01-01", "1998-01-01"),
    ],
)
def test_local_supplier_volume_matches_q5(tmp_path, params, region, start, end):
    want = expected(
        """
        select n.name, sum(l.extended_price * (1 - l.discount)) as revenue
        from commerce_customer c, commerce_order o, commerce_lineitem l, commerce_supplier s,
             commerce_nation n, commerce_region r
        where c.id = o.customer_id and l.order_id = o.id and l.supplier_id = s.id
          and c.nation_id = s.nation_id and s.nation_id = n.id and n.region_id = r.id
          and r.name = %s and o.order_date >= %s and o.order_date < %s
        group by n.name order by revenue desc
        """,
        [region, start, end],
    )
    assert_rows_equal("local_supplier_volume", report_csv(tmp_path, "local_supplier_volume", params), want)


@pytest.mark.parametrize(
    ("params", "start", "end", "low", "high", "quantity"),
    [
        ({}, "1994-01-01", "1995-01-01", "0.05", "0.07", 24),
        (
            {"date": "1997-01-01", "discount": "0.09", "quantity": 25},
            "1997-01-01",
            "1998-01-01",
            "0.08",
            "0.10",
            25,
        ),
    ],
)
def test_forecast_revenue_change_matches_q6(tmp_path, params, start, end, low, high, quantity):
    want = expected(
        """
        select sum(extended_price * discount) from commerce_lineitem
        where ship_date >= %s and ship_date < %s and discount between %s and %s and quantity < %s
        """,
        [start, end, Decimal(low), Decimal(high), quantity],
    )
    assert want[0][0] is not None
    assert_rows_equal(
        "forecast_revenue_change", report_csv(tmp_path, "forecast_revenue_change", params), want
    )


@pytest.mark.parametrize(
    ("params", "start", "end"),
    [({}, "1993-10-01", "1994-01-01"), ({"date": "1994-11-01"}, "1994-11-01", "1995-02-01")],
)
def test_returned_items_matches_q10(tmp_path, params, start, end):
    want = expected(
        """
        select c.id, c.name, sum(l.extended_price * (1 - l.discount)) as revenue, c.account_balance,
               n.name, c.address, c.phone, c.comment
        from commerce_customer c, commerce_order o, commerce_lineitem l, commerce_nation n
        where c.id = o.customer_id and l.order_id = o.id and o.order_date >= %s and o.order_date < %s
          and l.return_flag = 'R' and c.nation_id = n.id
        group by c.id, c.name, c.account_balance, c.phone, n.name, c.address, c.comment
        order by revenue desc, c.id
        limit 20
        """,
        [start, end],
    )
    assert_rows_equal("returned_items", report_csv(tmp_path, "returned_items", params), want)


@pytest.mark.parametrize("quantity", [None, 250])
def test_large_volume_customers_matches_q18(tmp_path, quantity):
    want = expected(
        """
        select c.name, c.id, o.id, o.order_date, o.total_price, sum(l.quantity)
        from commerce_customer c, commerce_order o, commerce_lineitem l
        where o.id in (select order_id from commerce_lineitem group by order_id having sum(quantity) > %s)
          and c.id = o.customer_id and o.id = l.order_id
        group by c.name, c.id, o.id, o.order_date, o.total_price
        order by o.total_price desc, o.order_date, o.id
        limit 100
        """,
        [quantity or 300],
    )
    params = {} if quantity is None else {"quantity": quantity}
    assert_rows_equal("large_volume_customers", report_csv(tmp_path, "large_volume_customers", params), want)


def month_sql() -> str:
    if connection.vendor == "postgresql":
        return "to_char(o.order_date, 'YYYY-MM-01')"
    return "strftime('%%Y-%%m-01', o.order_date)"


@pytest.mark.parametrize(
    ("params", "start", "end", "region"),
    [
        ({}, "1992-01-01", "1998-12-31", None),
        (
            {"date_from": "1995-01-01", "date_to": "1995-06-30", "region": "EUROPE"},
            "1995-01-01",
            "1995-06-30",
            "EUROPE",
        ),
    ],
)
def test_monthly_revenue_by_region_matches_plain_sql(tmp_path, params, start, end, region):
    only_region = "and r.name = %s" if region else ""
    want = expected(
        f"""
        select {month_sql()} as month, r.name, sum(l.extended_price * (1 - l.discount)), count(distinct o.id)
        from commerce_order o, commerce_lineitem l, commerce_customer c, commerce_nation n, commerce_region r
        where l.order_id = o.id and o.customer_id = c.id and c.nation_id = n.id and n.region_id = r.id
          and o.order_date >= %s and o.order_date <= %s {only_region}
        group by month, r.name order by month, r.name
        """,  # noqa: S608 (fixed fragments only; values are parameters)
        [start, end, *([region] if region else [])],
    )
    assert_rows_equal(
        "monthly_revenue_by_region", report_csv(tmp_path, "monthly_revenue_by_region", params), want
    )


def test_orders_export_with_filters_matches_plain_sql(tmp_path):
    customer = expected(
        "select customer_id from commerce_order group by customer_id order by count(*) desc limit 1", []
    )[0][0]
    params = {"status": "F", "date_from": "1993-01-01", "date_to": "1995-12-31", "customer": customer}
    want = expected(
        """
        select id, customer_id, status, total_price, order_date, priority, clerk, ship_priority, comment
        from commerce_order where status = 'F' and order_date between '1993-01-01' and '1995-12-31'
          and customer_id = %s order by id
        """,
        [customer],
    )
    assert_rows_equal("orders_export", report_csv(tmp_path, "orders_export", params), want)


def test_orders_export_without_filters_has_every_order(tmp_path):
    rows = report_csv(tmp_path, "orders_export")
    assert len(rows) - 1 == expected("select count(*) from commerce_order", [])[0][0] == 15000


def test_lineitems_export_for_a_ship_date_range_matches_plain_sql(tmp_path):
    want = expected(
        """
        select order_id, part_id, supplier_id, line_number, quantity, extended_price, discount, tax,
               return_flag, line_status, ship_date, commit_date, receipt_date, ship_instructions, ship_mode,
               comment
        from commerce_lineitem where ship_date >= '1996-03-01' and ship_date <= '1996-03-31'
        order by order_id, line_number
        """,
        [],
    )
    got = report_csv(
        tmp_path, "lineitems_export", {"ship_date_from": "1996-03-01", "ship_date_to": "1996-03-31"}
    )
    assert_rows_equal("lineitems_export", got, want)


def test_lineitems_export_without_filters_has_every_line_item(tmp_path):
    rows = report_csv(tmp_path, "lineitems_export")
    assert len(rows) - 1 == expected("select count(*) from commerce_lineitem", [])[0][0]
    keys = [(int(row[0]), int(row[3])) for row in rows[1:]]
    assert keys == sorted(keys)
