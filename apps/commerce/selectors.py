"""Optimized reads of the commerce tables, shared by the API, the pages and the admin.

Tables hold millions of rows (TPC-H scale 1 = 1.5M orders, 6M line items), so every
read here is bounded: lists use keyset pagination on an index, never OFFSET or COUNT(*).
"""

import dataclasses
import datetime
from typing import Any

from django.db import connections
from django.db.models import Count, DecimalField, Model, Prefetch, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from apps.commerce.models import MONEY, Customer, Dataset, LineItem, Order
from apps.core.cursor import InvalidCursor, day_parse, id_parse
from apps.core.pagination import Keyset, KeysetPage, keyset_page

# The sort key of the order lists, newest first, served by the index order_date_id_idx.
OrderKey = tuple[datetime.date, int]
ORDER_KEYSET = Keyset(fields=("order_date", "id"), parsers=(day_parse, id_parse))

ORDER_LIST_FIELDS = ("id", "order_date", "status", "total_price", "priority", "customer_id", "customer__name")


@dataclasses.dataclass(frozen=True)
class OrderFilters:
    customer_id: int | None = None
    status: str | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None


def orders_page(
    *,
    filters: OrderFilters,
    limit: int,
    after: OrderKey | None = None,
    before: OrderKey | None = None,
) -> KeysetPage:
    """A page of orders as dicts, newest first (order_date desc, id desc): one query.

    ``after`` continues to older orders, ``before`` back to newer ones (keyset_page).
    """
    queryset = Order.objects.all()
    if filters.customer_id is not None:
        queryset = queryset.filter(customer_id=filters.customer_id)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.date_from is not None:
        queryset = queryset.filter(order_date__gte=filters.date_from)
    if filters.date_to is not None:
        queryset = queryset.filter(order_date__lte=filters.date_to)
    page = keyset_page(
        queryset.values(*ORDER_LIST_FIELDS), keyset=ORDER_KEYSET, size=limit, after=after, before=before
    )
    for row in page.rows:
        row["customer_name"] = row.pop("customer__name")
    return page


def _line_items() -> QuerySet[LineItem]:
    """Line items with their part and supplier, only the columns the pages and the API show."""
    return LineItem.objects.select_related("part", "supplier").only(
        "id",
        "order_id",
        "line_number",
        "quantity",
        "extended_price",
        "discount",
        "tax",
        "return_flag",
        "line_status",
        "ship_date",
        "commit_date",
        "receipt_date",
        "ship_mode",
        "ship_instructions",
        "part__id",
        "part__name",
        "supplier__id",
        "supplier__name",
    )


def _order_with_customer() -> QuerySet[Order]:
    return Order.objects.select_related("customer").only(
        "id",
        "status",
        "total_price",
        "order_date",
        "priority",
        "clerk",
        "ship_priority",
        "comment",
        "customer__id",
        "customer__name",
    )


def order_get_with_line_items(*, order_id: int) -> Order | None:
    """The order with its customer and its line items (with part and supplier): two queries."""
    return (
        _order_with_customer()
        .prefetch_related(Prefetch("line_items", queryset=_line_items().order_by("line_number")))
        .filter(id=order_id)
        .first()
    )


def order_get(*, order_id: int) -> Order | None:
    """The order with its customer, without its line items: one query."""
    return _order_with_customer().filter(id=order_id).first()


def order_exists(*, order_id: int) -> bool:
    return Order.objects.filter(id=order_id).exists()


def _line_number_parse(value: Any) -> int:
    # A line number in a cursor: exactly an int of the column's range (not 1.5, "1", true).
    if type(value) is not int or not -(2**31) <= value < 2**31:
        raise InvalidCursor()
    return value


# Line items of an order in their own order, served by the (order, line_number) unique index.
LINE_ITEM_KEYSET = Keyset(fields=("line_number",), parsers=(_line_number_parse,), descending=False)


def order_line_items_page(*, order_id: int, limit: int, after: tuple[int] | None = None) -> KeysetPage:
    """A page of an order's line items by line number, with part and supplier: one query."""
    return keyset_page(
        _line_items().filter(order_id=order_id), keyset=LINE_ITEM_KEYSET, size=limit, after=after
    )


def customer_get_summary(*, customer_id: int) -> Customer | None:
    """The customer with nation name, order count and total spent: one query.

    The aggregate joins only this customer's orders (index order_customer_date_idx).
    """
    zero = Value(0, output_field=DecimalField(**MONEY))
    return (
        Customer.objects.select_related("nation")
        .only(
            "id",
            "name",
            "address",
            "phone",
            "account_balance",
            "market_segment",
            "nation__id",
            "nation__name",
        )
        .annotate(order_count=Count("orders"), total_spent=Coalesce(Sum("orders__total_price"), zero))
        .filter(id=customer_id)
        .first()
    )


def dataset_current() -> Dataset | None:
    """The TPC-H data set the tables hold (its row counts avoid COUNT(*) on big tables)."""
    return Dataset.objects.order_by("-loaded_at").first()


def table_row_estimate(*, model: type[Model], using: str = "default") -> int | None:
    """PostgreSQL's planner estimate of a table's rows: instant where COUNT(*) scans it all.

    None on other databases, or when the table has never been analysed.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] >= 0 else None
