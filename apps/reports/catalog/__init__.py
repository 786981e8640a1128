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

from apps.reports.catalog import commerce, tpch
from apps.reports.catalog.base import (
    Column,
    ColumnKind,
    ReportDefinition,
    ReportQuery,
    SqlQuery,
    UnknownReport,
    add_months,
)
from apps.reports.models import Format

__all__ = [
    "REPORTS",
    "Column",
    "ColumnKind",
    "ReportDefinition",
    "ReportQuery",
    "SqlQuery",
    "UnknownReport",
    "add_months",
    "report_definition",
]

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
            params=tpch.PricingSummaryParams,
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
            build=tpch.pricing_summary,
        ),
        ReportDefinition(
            name="shipping_priority",
            title="Shipping priority",
            description="The 10 unshipped orders with the highest revenue for a market segment, as of "
            "a day (TPC-H Q3).",
            params=tpch.ShippingPriorityParams,
            columns=_columns(
                ("l_orderkey", _I), ("revenue", _D), ("o_orderdate", _DT), ("o_shippriority", _I)
            ),
            build=tpch.shipping_priority,
            limit=10,
        ),
        ReportDefinition(
            name="local_supplier_volume",
            title="Local supplier volume",
            description="Revenue by nation from sales where customer and supplier are of the same "
            "nation, for a region and a year (TPC-H Q5).",
            params=tpch.LocalSupplierVolumeParams,
            columns=_columns(("n_name", _T), ("revenue", _D)),
            build=tpch.local_supplier_volume,
            limit=5,
        ),
        ReportDefinition(
            name="forecast_revenue_change",
            title="Forecasting revenue change",
            description="The revenue increase had small-quantity discounts in a band been dropped, "
            "for a year (TPC-H Q6).",
            params=tpch.ForecastRevenueChangeParams,
            columns=_columns(("revenue", _D)),
            build=tpch.forecast_revenue_change,
            limit=1,
        ),
        ReportDefinition(
            name="returned_items",
            title="Returned items",
            description="The 20 customers who lost the most revenue to returned items in a quarter "
            "(TPC-H Q10).",
            params=tpch.ReturnedItemsParams,
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
            build=tpch.returned_items,
            limit=20,
        ),
        ReportDefinition(
            name="large_volume_customers",
            title="Large volume customers",
            description="The top 100 orders (with their customers) whose quantities add up to more "
            "than a limit (TPC-H Q18).",
            params=tpch.LargeVolumeCustomersParams,
            columns=_columns(
                ("c_name", _T),
                ("c_custkey", _I),
                ("o_orderkey", _I),
                ("o_orderdate", _DT),
                ("o_totalprice", _D),
                ("sum(l_quantity)", _D),
            ),
            build=tpch.large_volume_customers,
            limit=100,
        ),
        ReportDefinition(
            name="monthly_revenue_by_region",
            title="Monthly revenue by region",
            description="Revenue and number of orders per month, by the customer's region.",
            params=commerce.MonthlyRevenueByRegionParams,
            columns=_columns(("month", _DT), ("region", _T), ("revenue", _D), ("orders", _I)),
            build=commerce.monthly_revenue_by_region,
        ),
        ReportDefinition(
            name="orders_export",
            title="Orders export",
            description="Orders in the TPC-H column layout, filtered by status, order date and "
            "customer (CSV).",
            params=commerce.OrdersExportParams,
            columns=commerce.ORDER_COLUMNS,
            build=commerce.orders_export,
            formats=(Format.CSV,),
            streamed=True,
        ),
        ReportDefinition(
            name="lineitems_export",
            title="Line items export",
            description="Line items in the TPC-H column layout, optionally for a ship date range (CSV).",
            params=commerce.LineItemsExportParams,
            columns=commerce.LINEITEM_COLUMNS,
            build=commerce.lineitems_export,
            formats=(Format.CSV,),
            streamed=True,
        ),
    ]
}


def report_definition(name: str) -> ReportDefinition:
    try:
        return REPORTS[name]
    except KeyError:
        raise UnknownReport(f"Unknown report {name!r}; choose one of {', '.join(REPORTS)}.") from None
