"""The six TPC-H business questions (specification queries Q1, Q3, Q5, Q6, Q10, Q18).

Each builder returns the query's SQL over our tables, in the specification's own
shape; dates are computed here so that the same SQL runs on PostgreSQL and SQLite.
"""

import datetime
from decimal import Decimal

from pydantic import Field

from apps.reports.catalog.base import (
    Params,
    RegionName,
    Segment,
    SqlQuery,
    add_months,
    date_field,
    report,
    sql_text,
)

# --- Q1 pricing summary ----------------------------------------------------------------


class PricingSummaryParams(Params):
    delta: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="Days before 1998-12-01: line items shipped on or before that day count.",
    )


@report(
    "pricing_summary",
    "Pricing summary",
    params=PricingSummaryParams,
    columns="l_returnflag l_linestatus sum_qty:decimal sum_base_price:decimal sum_disc_price:decimal "
    "sum_charge:decimal avg_qty:decimal avg_price:decimal avg_disc:decimal count_order:integer",
)
def pricing_summary(params: PricingSummaryParams) -> SqlQuery:
    """Quantities, prices, discounts and charges of shipped line items by return flag
    and line status, up to a ship date (TPC-H Q1)."""
    ship_date_limit = datetime.date(1998, 12, 1) - datetime.timedelta(days=params.delta)
    return SqlQuery(
        sql_text(
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
    date: datetime.date = date_field(
        datetime.date(1995, 3, 15), "Orders placed before this day and not shipped by it."
    )


@report(
    "shipping_priority",
    "Shipping priority",
    params=ShippingPriorityParams,
    columns="l_orderkey:integer revenue:decimal o_orderdate:date o_shippriority:integer",
    limit=10,
)
def shipping_priority(params: ShippingPriorityParams) -> SqlQuery:
    """The 10 unshipped orders with the highest revenue for a market segment, as of a
    day (TPC-H Q3)."""
    return SqlQuery(
        sql_text(
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
    date: datetime.date = date_field(datetime.date(1994, 1, 1), "First day of the one-year period.")


@report(
    "local_supplier_volume",
    "Local supplier volume",
    params=LocalSupplierVolumeParams,
    columns="n_name revenue:decimal",
    limit=5,
)
def local_supplier_volume(params: LocalSupplierVolumeParams) -> SqlQuery:
    """Revenue by nation from sales where customer and supplier are of the same nation,
    for a region and a year (TPC-H Q5)."""
    return SqlQuery(
        sql_text(
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
    date: datetime.date = date_field(datetime.date(1994, 1, 1), "First day of the one-year period.")
    discount: Decimal = Field(
        default=Decimal("0.06"),
        ge=Decimal("0.01"),
        le=Decimal("0.99"),
        max_digits=3,
        decimal_places=2,
        description="Discounts within 0.01 of this value count.",
    )
    quantity: int = Field(default=24, ge=1, le=1000, description="Line items below this quantity count.")


@report(
    "forecast_revenue_change",
    "Forecasting revenue change",
    params=ForecastRevenueChangeParams,
    columns="revenue:decimal",
    limit=1,
)
def forecast_revenue_change(params: ForecastRevenueChangeParams) -> SqlQuery:
    """The revenue increase had small-quantity discounts in a band been dropped, for a
    year (TPC-H Q6)."""
    return SqlQuery(
        sql_text(
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
    date: datetime.date = date_field(datetime.date(1993, 10, 1), "First day of the three-month period.")


@report(
    "returned_items",
    "Returned items",
    params=ReturnedItemsParams,
    columns="c_custkey:integer c_name revenue:decimal c_acctbal:decimal n_name c_address c_phone c_comment",
    limit=20,
)
def returned_items(params: ReturnedItemsParams) -> SqlQuery:
    """The 20 customers who lost the most revenue to returned items in a quarter (TPC-H
    Q10)."""
    return SqlQuery(
        sql_text(
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


@report(
    "large_volume_customers",
    "Large volume customers",
    params=LargeVolumeCustomersParams,
    columns="c_name c_custkey:integer o_orderkey:integer o_orderdate:date o_totalprice:decimal "
    "sum(l_quantity):decimal",
    limit=100,
)
def large_volume_customers(params: LargeVolumeCustomersParams) -> SqlQuery:
    """The top 100 orders (with their customers) whose quantities add up to more than a
    limit (TPC-H Q18)."""
    return SqlQuery(
        sql_text(
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
