"""Our own report (monthly revenue by region) and the exports, as ORM querysets.

Querysets are streamed with ``iterator(chunk_size=…)`` (a server-side cursor on
PostgreSQL); exports write the TPC-H column layout, so that their files can be imported:
their columns are the loader's own map of tpchgen's files (``commerce.services.TABLES``).
"""

import datetime
from typing import ClassVar, Literal

from django.db import models
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncMonth
from pydantic import Field

from apps.commerce.models import LineItem, Order
from apps.commerce.services import TABLES
from apps.reports.catalog.base import Column, ColumnKind, Params, RegionName, date_field, report
from apps.reports.models import Format

# --- Monthly revenue by region (ours) -----------------------------------------------------


class MonthlyRevenueByRegionParams(Params):
    date_from: datetime.date = date_field(datetime.date(1992, 1, 1), "Orders placed on or after this day.")
    date_to: datetime.date = date_field(datetime.date(1998, 12, 31), "Orders placed on or before this day.")
    region: RegionName | None = Field(default=None, description="Only this customer region (all if empty).")

    date_range: ClassVar = ("date_from", "date_to")


MONTHLY_REVENUE = DecimalField(max_digits=20, decimal_places=4)


@report(
    "monthly_revenue_by_region",
    "Monthly revenue by region",
    params=MonthlyRevenueByRegionParams,
    columns="month:date region revenue:decimal orders:integer",
)
def monthly_revenue_by_region(params: MonthlyRevenueByRegionParams) -> models.QuerySet:
    """Revenue and number of orders per month, by the customer's region.

    Revenue is the extended price less discount of the line items of the orders placed.
    """
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
    # Customer keys are bigints: a larger number names nobody.
    customer: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="Only this customer's orders (customer key)."
    )

    date_range: ClassVar = ("date_from", "date_to")


def _kind(field: models.Field) -> str:
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    if isinstance(field, models.DateField):
        return ColumnKind.DATE
    if isinstance(field, models.DecimalField):
        return ColumnKind.DECIMAL
    if isinstance(field, models.IntegerField):
        return ColumnKind.INTEGER
    return ColumnKind.TEXT


def tpch_layout(table: str) -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """(columns, the model's attributes that fill them) of a tpchgen file, in file order."""
    tpch = TABLES[table]
    pairs = list(zip(tpch.csv_columns, tpch.fields, strict=True))
    columns = tuple(Column(name, _kind(field)) for name, field in pairs)
    return columns, tuple(field.attname for _, field in pairs)


def _filtered(queryset: models.QuerySet, params: Params, lookups: dict[str, str]) -> models.QuerySet:
    """``queryset`` narrowed by each parameter that is set, through its lookup."""
    given = {lookup: getattr(params, name) for name, lookup in lookups.items()}
    return queryset.filter(**{lookup: value for lookup, value in given.items() if value})


CSV_ONLY = (Format.CSV,)
ORDER_COLUMNS, ORDER_VALUES = tpch_layout("orders")


ORDER_FILTERS = {
    "status": "status",
    "date_from": "order_date__gte",
    "date_to": "order_date__lte",
    "customer": "customer_id",
}


@report(
    "orders_export",
    "Orders export",
    params=OrdersExportParams,
    columns=ORDER_COLUMNS,
    formats=CSV_ONLY,
    streamed=True,
)
def orders_export(params: OrdersExportParams) -> models.QuerySet:
    """Orders in the TPC-H column layout, filtered by status, order date and customer (CSV)."""
    orders = _filtered(Order.objects.all(), params, ORDER_FILTERS)
    return orders.order_by("id").values_list(*ORDER_VALUES)


class LineItemsExportParams(Params):
    ship_date_from: datetime.date | None = Field(
        default=None, description="Line items shipped on or after this day."
    )
    ship_date_to: datetime.date | None = Field(
        default=None, description="Line items shipped on or before this day."
    )

    date_range: ClassVar = ("ship_date_from", "ship_date_to")


LINEITEM_COLUMNS, LINEITEM_VALUES = tpch_layout("lineitem")


LINEITEM_FILTERS = {"ship_date_from": "ship_date__gte", "ship_date_to": "ship_date__lte"}


@report(
    "lineitems_export",
    "Line items export",
    params=LineItemsExportParams,
    columns=LINEITEM_COLUMNS,
    formats=CSV_ONLY,
    streamed=True,
)
def lineitems_export(params: LineItemsExportParams) -> models.QuerySet:
    """Line items in the TPC-H column layout, optionally for a ship date range (CSV)."""
    line_items = _filtered(LineItem.objects.all(), params, LINEITEM_FILTERS)
    # (order, line_number) is the unique index: the export reads in its order.
    return line_items.order_by("order_id", "line_number").values_list(*LINEITEM_VALUES)
