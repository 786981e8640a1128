"""Our own report (monthly revenue by region) and the exports, as ORM querysets.

Querysets are streamed with ``iterator(chunk_size=…)`` (a server-side cursor on
PostgreSQL); exports write the TPC-H column layout, so that their files can be imported.
"""

import datetime
from typing import Literal

from django.db import models
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncMonth
from pydantic import Field, model_validator

from apps.commerce.models import LineItem, Order
from apps.reports.catalog.base import ColumnKind, Params, RegionName, date_field

# --- Monthly revenue by region (ours) -----------------------------------------------------


class MonthlyRevenueByRegionParams(Params):
    date_from: datetime.date = date_field(datetime.date(1992, 1, 1), "Orders placed on or after this day.")
    date_to: datetime.date = date_field(datetime.date(1998, 12, 31), "Orders placed on or before this day.")
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
    # Customer keys are bigints: a larger number names nobody.
    customer: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="Only this customer's orders (customer key)."
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
