"""Commerce rows built by hand in tests, as the loading service would write them."""

from typing import Any

from apps.commerce.models import LineItem, Order


def line_item_create(*, order: Order, **fields: Any) -> LineItem:
    """A line item with its order's date (LineItem.order_date), as load_tpch and the import give it."""
    return LineItem.objects.create(order=order, order_date=order.order_date, **fields)
