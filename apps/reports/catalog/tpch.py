"""The six TPC-H business questions (specification queries Q1, Q3, Q5, Q6, Q10, Q18).

Each builder returns the query's SQL over our tables, in the specification's own
shape; dates are computed here so that the same SQL runs on PostgreSQL and SQLite.
"""

import datetime
from decimal import Decimal

from pydantic import Field

from apps.reports.catalog.base import Params, RegionName, Segment, SqlQuery, add_months, date_field, sql_text

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


def shipping_priority(params: ShippingPriorityParams) -> SqlQuery:
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


def local_supplier_volume(params: LocalSupplierVolumeParams) -> SqlQuery:
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


def forecast_revenue_change(params: ForecastRevenueChangeParams) -> SqlQuery:
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


def returned_items(params: ReturnedItemsParams) -> SqlQuery:
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


def large_volume_customers(params: LargeVolumeCustomersParams) -> SqlQuery:
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
