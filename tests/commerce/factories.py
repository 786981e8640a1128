"""Commerce rows built in tests, as the loading service would write them.

Each function fills the columns a test does not care about with plain TPC-H-like values;
a test names only what it asserts on (ids, dates, names, amounts).
"""

import datetime
from decimal import Decimal
from typing import Any

from apps.commerce.models import Customer, LineItem, Nation, Order, Part, Supplier


def customer_create(*, id: int, nation: Nation, **fields: Any) -> Customer:
    values = {
        "name": f"Customer#{id:09d}",
        "address": "1 Rue de la Paix",
        "phone": "16-123-456-7890",
        "account_balance": Decimal("100.00"),
        "market_segment": Customer.Segment.BUILDING,
    }
    return Customer.objects.create(id=id, nation=nation, **(values | fields))


def supplier_create(*, id: int, nation: Nation, **fields: Any) -> Supplier:
    values = {
        "name": f"Supplier#{id:09d}",
        "address": "Fabrikweg 1",
        "phone": "17-000-000-0000",
        "account_balance": Decimal("5.00"),
    }
    return Supplier.objects.create(id=id, nation=nation, **(values | fields))


def part_create(*, id: int, **fields: Any) -> Part:
    values = {
        "name": "blue steel part",
        "manufacturer": "Manufacturer#1",
        "brand": "Brand#11",
        "type": "STANDARD STEEL",
        "size": 7,
        "container": "SM BOX",
        "retail_price": Decimal("901.00"),
    }
    return Part.objects.create(id=id, **(values | fields))


def order_create(*, id: int, customer: Customer, order_date: datetime.date | str, **fields: Any) -> Order:
    values = {
        "status": "O",
        "total_price": Decimal("1000.00"),
        "priority": "1-URGENT",
        "clerk": "Clerk#000000001",
        "ship_priority": 0,
    }
    return Order.objects.create(id=id, customer=customer, order_date=order_date, **(values | fields))


def line_item_create(*, order: Order, **fields: Any) -> LineItem:
    """A line item with its order's date (LineItem.order_date), as load_tpch and the import give it."""
    return LineItem.objects.create(order=order, order_date=order.order_date, **fields)


def line_item_shipped(
    *, order: Order, part: Part, supplier: Supplier, line_number: int = 1, **fields: Any
) -> LineItem:
    """A line item shipped, committed and received on its order's day unless told otherwise."""
    day = order.order_date
    values = {
        "quantity": Decimal("2"),
        "extended_price": Decimal("1802.00"),
        "discount": Decimal("0.05"),
        "tax": Decimal("0.02"),
        "return_flag": "N",
        "line_status": "O",
        "ship_date": day,
        "commit_date": day,
        "receipt_date": day,
        "ship_instructions": "NONE",
        "ship_mode": "AIR",
    }
    return line_item_create(
        order=order, part=part, supplier=supplier, line_number=line_number, **(values | fields)
    )
