"""The report catalog: every report and export users can run, with its parameters.

A ``ReportDefinition`` has a name, a title, a description, a parameter schema (a
pydantic model whose defaults are the sensible ones), its output columns and a
``build(params)`` that returns the database query producing the rows. All computing is
done by the database; the query is streamed (see selectors.report_rows).

The six TPC-H reports follow the TPC-H specification (queries Q1, Q3, Q5, Q6, Q10 and
Q18): their default parameters are the specification's validation values, their columns
come in the order of the query's select list, and their rows in the order of its
ORDER BY (with the row's key added as a last tie-breaker, so that equal values still
come out in one fixed order). Dates are computed here, not in SQL, so that the same SQL
runs on PostgreSQL and SQLite.
"""

import calendar
import dataclasses
import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from django.db import models
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncMonth
from pydantic import BaseModel, ConfigDict, Field, model_validator

from apps.commerce.models import Customer, LineItem, Nation, Order, Region, Supplier
from apps.reports.models import Format


class ColumnKind:
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    kind: str = ColumnKind.TEXT


@dataclasses.dataclass(frozen=True)
class SqlQuery:
    """Plain SQL with %s placeholders and its parameters."""

    sql: str
    params: tuple


# What a builder returns: SQL, or a queryset of value tuples (``values_list``).
ReportQuery = SqlQuery | models.QuerySet


@dataclasses.dataclass(frozen=True)
class ReportDefinition:
    name: str
    title: str
    description: str
    params: type[BaseModel]
    columns: tuple[Column, ...]
    build: Callable[[BaseModel], ReportQuery]
    formats: tuple[str, ...] = (Format.CSV, Format.XLSX)
    # Exports stream many rows: their progress counts rows against a COUNT(*) first.
    count_rows: bool = False
    # Rows the result can have at most (TPC-H "top N"), for progress; None = unknown.
    limit: int | None = None

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]

    def defaults(self) -> dict:
        return self.params().model_dump(mode="json")


class UnknownReport(LookupError):
    pass


def _table(model: type[models.Model]) -> str:
    return model._meta.db_table


TABLES = {
    "lineitem": _table(LineItem),
    "orders": _table(Order),
    "customer": _table(Customer),
    "nation": _table(Nation),
    "region": _table(Region),
    "supplier": _table(Supplier),
}


def _sql(text: str) -> str:
    # Table names come from the models (fixed identifiers, not input); values are %s.
    return text.format(**TABLES)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus whole months, clamped to the month's last day (SQL ``+ interval 'n month'``)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


Segment = Literal["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
RegionName = Literal["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
# TPC-H data covers order dates 1992-01-01 .. 1998-08-02; ship dates run a few months on.
EARLIEST = datetime.date(1990, 1, 1)
LATEST = datetime.date(2005, 12, 31)


def _date_field(default: datetime.date, description: str):
    return Field(default=default, ge=EARLIEST, le=LATEST, description=description)


# --- Q1 pricing summary ----------------------------------------------------------------


class PricingSummaryParams(Params):
    delta: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="Days before 1998-12-01: line items shipped on or before that day count.",
    )


def pricing_summary(params: PricingSummaryParams) -> SqlQuery:
    ship_date_limit = datetime.date(1998, 12, 1) - datetime.timedelta(days=params.delta)
    return SqlQuery(
        _sql(
            """
            SELECT l.return_flag AS l_returnflag, l.line_status AS l_linestatus,
                   SUM(l.quantity) AS sum_qty,
                   SUM(l.extended_price) AS sum_base_price,
                   SUM(l.extended_price * (1 - l.discount)) AS sum_disc_price,
                   SUM(l.extended_price * (1 - l.discount) * (1 + l.tax)) AS sum_charge,
                   AVG(l.quantity) AS avg_qty,
                   AVG(l.extended_price) AS avg_price,
                   AVG(l.discount) AS avg_disc,
                   COUNT(*) AS count_order
            FROM {lineitem} l
            WHERE l.ship_date <= %s
            GROUP BY l.return_flag, l.line_status
            ORDER BY l.return_flag, l.line_status
            """
        ),
        (ship_date_limit,),
    )


# --- Q3 shipping priority ---------------------------------------------------------------


class ShippingPriorityParams(Params):
    segment: Segment = Field(default="BUILDING", description="Customers' market segment.")
    date: datetime.date = _date_field(
        datetime.date(1995, 3, 15), "Orders placed before this day and not shipped by it."
    )


def shipping_priority(params: ShippingPriorityParams) -> SqlQuery:
    return SqlQuery(
        _sql(
            """
            SELECT l.order_id AS l_orderkey,
                   SUM(l.extended_price * (1 - l.discount)) AS revenue,
                   o.order_date AS o_orderdate,
                   o.ship_priority AS o_shippriority
            FROM {customer} c
            JOIN {orders} o ON o.customer_id = c.id
            JOIN {lineitem} l ON l.order_id = o.id
            WHERE c.market_segment = %s AND o.order_date < %s AND l.ship_date > %s
            GROUP BY l.order_id, o.order_date, o.ship_priority
            ORDER BY revenue DESC, o_orderdate, l_orderkey
            LIMIT 10
            """
        ),
        (params.segment, params.date, params.date),
    )


# --- Q5 local supplier volume -----------------------------------------------------------


class LocalSupplierVolumeParams(Params):
    region: RegionName = Field(default="ASIA", description="Region of customers and suppliers.")
    date: datetime.date = _date_field(datetime.date(1994, 1, 1), "First day of the one-year period.")


def local_supplier_volume(params: LocalSupplierVolumeParams) -> SqlQuery:
    return SqlQuery(
        _sql(
            """
            SELECT n.name AS n_name,
                   SUM(l.extended_price * (1 - l.discount)) AS revenue
            FROM {customer} c
            JOIN {orders} o ON o.customer_id = c.id
            JOIN {lineitem} l ON l.order_id = o.id
            JOIN {supplier} s ON s.id = l.supplier_id AND s.nation_id = c.nation_id
            JOIN {nation} n ON n.id = s.nation_id
            JOIN {region} r ON r.id = n.region_id
            WHERE r.name = %s AND o.order_date >= %s AND o.order_date < %s
            GROUP BY n.name
            ORDER BY revenue DESC, n_name
            """
        ),
        (params.region, params.date, add_months(params.date, 12)),
    )


# --- Q6 forecasting revenue change ------------------------------------------------------


class ForecastRevenueChangeParams(Params):
    date: datetime.date = _date_field(datetime.date(1994, 1, 1), "First day of the one-year period.")
    discount: Decimal = Field(
        default=Decimal("0.06"),
        ge=Decimal("0.01"),
        le=Decimal("0.99"),
        max_digits=3,
        decimal_places=2,
        description="Discounts within 0.01 of this value count.",
    )
    quantity: int = Field(default=24, ge=1, le=1000, description="Line items below this quantity count.")


def forecast_revenue_change(params: ForecastRevenueChangeParams) -> SqlQuery:
    return SqlQuery(
        _sql(
            """
            SELECT SUM(l.extended_price * l.discount) AS revenue
            FROM {lineitem} l
            WHERE l.ship_date >= %s AND l.ship_date < %s
              AND l.discount BETWEEN %s AND %s
              AND l.quantity < %s
            """
        ),
        (
            params.date,
            add_months(params.date, 12),
            params.discount - Decimal("0.01"),
            params.discount + Decimal("0.01"),
            params.quantity,
        ),
    )


# --- Q10 returned items -------------------------------------------------------------------


class ReturnedItemsParams(Params):
    date: datetime.date = _date_field(datetime.date(1993, 10, 1), "First day of the three-month period.")


def returned_items(params: ReturnedItemsParams) -> SqlQuery:
    return SqlQuery(
        _sql(
            """
            SELECT c.id AS c_custkey, c.name AS c_name,
                   SUM(l.extended_price * (1 - l.discount)) AS revenue,
                   c.account_balance AS c_acctbal, n.name AS n_name,
                   c.address AS c_address, c.phone AS c_phone, c.comment AS c_comment
            FROM {customer} c
            JOIN {orders} o ON o.customer_id = c.id
            JOIN {lineitem} l ON l.order_id = o.id
            JOIN {nation} n ON n.id = c.nation_id
            WHERE o.order_date >= %s AND o.order_date < %s AND l.return_flag = 'R'
            GROUP BY c.id, c.name, c.account_balance, c.phone, n.name, c.address, c.comment
            ORDER BY revenue DESC, c_custkey
            LIMIT 20
            """
        ),
        (params.date, add_months(params.date, 3)),
    )


# --- Q18 large volume customers -----------------------------------------------------------


class LargeVolumeCustomersParams(Params):
    quantity: int = Field(
        default=300, ge=1, le=10000, description="Orders whose line items add up to more than this."
    )


def large_volume_customers(params: LargeVolumeCustomersParams) -> SqlQuery:
    return SqlQuery(
        _sql(
            """
            SELECT c.name AS c_name, c.id AS c_custkey, o.id AS o_orderkey,
                   o.order_date AS o_orderdate, o.total_price AS o_totalprice,
                   SUM(l.quantity) AS sum_quantity
            FROM {customer} c
            JOIN {orders} o ON o.customer_id = c.id
            JOIN {lineitem} l ON l.order_id = o.id
            WHERE o.id IN (
                SELECT order_id FROM {lineitem} GROUP BY order_id HAVING SUM(quantity) > %s
            )
            GROUP BY c.name, c.id, o.id, o.order_date, o.total_price
            ORDER BY o_totalprice DESC, o_orderdate, o_orderkey
            LIMIT 100
            """
        ),
        (params.quantity,),
    )


# --- Monthly revenue by region (ours) -----------------------------------------------------


class MonthlyRevenueByRegionParams(Params):
    date_from: datetime.date = _date_field(datetime.date(1992, 1, 1), "Orders placed on or after this day.")
    date_to: datetime.date = _date_field(datetime.date(1998, 12, 31), "Orders placed on or before this day.")
    region: RegionName | None = Field(default=None, description="Only this customer region (all if empty).")

    @model_validator(mode="after")
    def _range(self):
        if self.date_from > self.date_to:
            raise ValueError("date_from must be on or before date_to")
        return self


MONTHLY_REVENUE = DecimalField(max_digits=20, decimal_places=4)


def monthly_revenue_by_region(params: MonthlyRevenueByRegionParams) -> models.QuerySet:
    """Revenue (extended price less discount) of the orders placed each month, by the
    customer's region, with the number of orders."""
    line_items = LineItem.objects.filter(
        order__order_date__gte=params.date_from, order__order_date__lte=params.date_to
    )
    if params.region:
        line_items = line_items.filter(order__customer__nation__region__name=params.region)
    return (
        line_items.annotate(
            month=TruncMonth("order__order_date"), region=F("order__customer__nation__region__name")
        )
        .values("month", "region")
        .annotate(
            revenue=Sum(
                ExpressionWrapper(F("extended_price") * (1 - F("discount")), output_field=MONTHLY_REVENUE)
            ),
            orders=Count("order_id", distinct=True),
        )
        .order_by("month", "region")
        .values_list("month", "region", "revenue", "orders")
    )


# --- Exports ------------------------------------------------------------------------------


class OrdersExportParams(Params):
    status: Literal["O", "F", "P"] | None = Field(
        default=None, description="Only orders with this status: O open, F fulfilled, P partial."
    )
    date_from: datetime.date | None = Field(default=None, description="Orders placed on or after this day.")
    date_to: datetime.date | None = Field(default=None, description="Orders placed on or before this day.")
    customer: int | None = Field(
        default=None, ge=1, description="Only this customer's orders (customer key)."
    )

    @model_validator(mode="after")
    def _range(self):
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must be on or before date_to")
        return self


ORDER_COLUMNS = (
    ("o_orderkey", "id", ColumnKind.INTEGER),
    ("o_custkey", "customer_id", ColumnKind.INTEGER),
    ("o_orderstatus", "status", ColumnKind.TEXT),
    ("o_totalprice", "total_price", ColumnKind.DECIMAL),
    ("o_orderdate", "order_date", ColumnKind.DATE),
    ("o_orderpriority", "priority", ColumnKind.TEXT),
    ("o_clerk", "clerk", ColumnKind.TEXT),
    ("o_shippriority", "ship_priority", ColumnKind.INTEGER),
    ("o_comment", "comment", ColumnKind.TEXT),
)


def orders_export(params: OrdersExportParams) -> models.QuerySet:
    orders = Order.objects.all()
    if params.status:
        orders = orders.filter(status=params.status)
    if params.date_from:
        orders = orders.filter(order_date__gte=params.date_from)
    if params.date_to:
        orders = orders.filter(order_date__lte=params.date_to)
    if params.customer:
        orders = orders.filter(customer_id=params.customer)
    return orders.order_by("id").values_list(*(field for _, field, _ in ORDER_COLUMNS))


class LineItemsExportParams(Params):
    ship_date_from: datetime.date | None = Field(
        default=None, description="Line items shipped on or after this day."
    )
    ship_date_to: datetime.date | None = Field(
        default=None, description="Line items shipped on or before this day."
    )

    @model_validator(mode="after")
    def _range(self):
        if self.ship_date_from and self.ship_date_to and self.ship_date_from > self.ship_date_to:
            raise ValueError("ship_date_from must be on or before ship_date_to")
        return self


LINEITEM_COLUMNS = (
    ("l_orderkey", "order_id", ColumnKind.INTEGER),
    ("l_partkey", "part_id", ColumnKind.INTEGER),
    ("l_suppkey", "supplier_id", ColumnKind.INTEGER),
    ("l_linenumber", "line_number", ColumnKind.INTEGER),
    ("l_quantity", "quantity", ColumnKind.DECIMAL),
    ("l_extendedprice", "extended_price", ColumnKind.DECIMAL),
    ("l_discount", "discount", ColumnKind.DECIMAL),
    ("l_tax", "tax", ColumnKind.DECIMAL),
    ("l_returnflag", "return_flag", ColumnKind.TEXT),
    ("l_linestatus", "line_status", ColumnKind.TEXT),
    ("l_shipdate", "ship_date", ColumnKind.DATE),
    ("l_commitdate", "commit_date", ColumnKind.DATE),
    ("l_receiptdate", "receipt_date", ColumnKind.DATE),
    ("l_shipinstruct", "ship_instructions", ColumnKind.TEXT),
    ("l_shipmode", "ship_mode", ColumnKind.TEXT),
    ("l_comment", "comment", ColumnKind.TEXT),
)


def lineitems_export(params: LineItemsExportParams) -> models.QuerySet:
    line_items = LineItem.objects.all()
    if params.ship_date_from:
        line_items = line_items.filter(ship_date__gte=params.ship_date_from)
    if params.ship_date_to:
        line_items = line_items.filter(ship_date__lte=params.ship_date_to)
    # (order, line_number) is the unique index: the export reads in its order.
    return line_items.order_by("order_id", "line_number").values_list(
        *(field for _, field, _ in LINEITEM_COLUMNS)
    )


# --- The catalog --------------------------------------------------------------------------

_D, _I, _T, _DT = ColumnKind.DECIMAL, ColumnKind.INTEGER, ColumnKind.TEXT, ColumnKind.DATE


def _columns(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, kind) for name, kind in pairs)


REPORTS: dict[str, ReportDefinition] = {
    definition.name: definition
    for definition in [
        ReportDefinition(
            name="pricing_summary",
            title="Pricing summary",
            description="Quantities, prices, discounts and charges of shipped line items by return "
            "flag and line status, up to a ship date (TPC-H Q1).",
            params=PricingSummaryParams,
            columns=_columns(
                ("l_returnflag", _T),
                ("l_linestatus", _T),
                ("sum_qty", _D),
                ("sum_base_price", _D),
                ("sum_disc_price", _D),
                ("sum_charge", _D),
                ("avg_qty", _D),
                ("avg_price", _D),
                ("avg_disc", _D),
                ("count_order", _I),
            ),
            build=pricing_summary,
        ),
        ReportDefinition(
            name="shipping_priority",
            title="Shipping priority",
            description="The 10 unshipped orders with the highest revenue for a market segment, as of "
            "a day (TPC-H Q3).",
            params=ShippingPriorityParams,
            columns=_columns(
                ("l_orderkey", _I), ("revenue", _D), ("o_orderdate", _DT), ("o_shippriority", _I)
            ),
            build=shipping_priority,
            limit=10,
        ),
        ReportDefinition(
            name="local_supplier_volume",
            title="Local supplier volume",
            description="Revenue by nation from sales where customer and supplier are of the same "
            "nation, for a region and a year (TPC-H Q5).",
            params=LocalSupplierVolumeParams,
            columns=_columns(("n_name", _T), ("revenue", _D)),
            build=local_supplier_volume,
            limit=5,
        ),
        ReportDefinition(
            name="forecast_revenue_change",
            title="Forecasting revenue change",
            description="The revenue increase had small-quantity discounts in a band been dropped, "
            "for a year (TPC-H Q6).",
            params=ForecastRevenueChangeParams,
            columns=_columns(("revenue", _D)),
            build=forecast_revenue_change,
            limit=1,
        ),
        ReportDefinition(
            name="returned_items",
            title="Returned items",
            description="The 20 customers who lost the most revenue to returned items in a quarter "
            "(TPC-H Q10).",
            params=ReturnedItemsParams,
            columns=_columns(
                ("c_custkey", _I),
                ("c_name", _T),
                ("revenue", _D),
                ("c_acctbal", _D),
                ("n_name", _T),
                ("c_address", _T),
                ("c_phone", _T),
                ("c_comment", _T),
            ),
            build=returned_items,
            limit=20,
        ),
        ReportDefinition(
            name="large_volume_customers",
            title="Large volume customers",
            description="The top 100 orders (with their customers) whose quantities add up to more "
            "than a limit (TPC-H Q18).",
            params=LargeVolumeCustomersParams,
            columns=_columns(
                ("c_name", _T),
                ("c_custkey", _I),
                ("o_orderkey", _I),
                ("o_orderdate", _DT),
                ("o_totalprice", _D),
                ("sum(l_quantity)", _D),
            ),
            build=large_volume_customers,
            limit=100,
        ),
        ReportDefinition(
            name="monthly_revenue_by_region",
            title="Monthly revenue by region",
            description="Revenue and number of orders per month, by the customer's region.",
            params=MonthlyRevenueByRegionParams,
            columns=_columns(("month", _DT), ("region", _T), ("revenue", _D), ("orders", _I)),
            build=monthly_revenue_by_region,
        ),
        ReportDefinition(
            name="orders_export",
            title="Orders export",
            description="Orders in the TPC-H column layout, filtered by status, order date and "
            "customer (CSV).",
            params=OrdersExportParams,
            columns=tuple(Column(name, kind) for name, _, kind in ORDER_COLUMNS),
            build=orders_export,
            formats=(Format.CSV,),
            count_rows=True,
        ),
        ReportDefinition(
            name="lineitems_export",
            title="Line items export",
            description="Line items in the TPC-H column layout, optionally for a ship date range (CSV).",
            params=LineItemsExportParams,
            columns=tuple(Column(name, kind) for name, _, kind in LINEITEM_COLUMNS),
            build=lineitems_export,
            formats=(Format.CSV,),
            count_rows=True,
        ),
    ]
}


def report_definition(name: str) -> ReportDefinition:
    try:
        return REPORTS[name]
    except KeyError:
        raise UnknownReport(f"Unknown report {name!r}; choose one of {', '.join(REPORTS)}.") from None
