"""What the commerce API takes in and gives out. Money is a decimal string ("1234.56")."""

import datetime
from decimal import Decimal
from typing import Literal

from ninja import Field, Schema

from apps.core.api import CursorPageOut
from apps.core.cursor import MAX_ID

OrderStatus = Literal["O", "F", "P"]


class OrderListQuery(Schema):
    customer: int | None = Field(
        None, ge=1, le=MAX_ID, description="Only this customer's orders (customer id)."
    )
    status: OrderStatus | None = Field(None, description="O = open, F = fulfilled, P = partially fulfilled.")
    date_from: datetime.date | None = Field(None, description="Orders on or after this date (YYYY-MM-DD).")
    date_to: datetime.date | None = Field(None, description="Orders on or before this date (YYYY-MM-DD).")
    limit: int | None = Field(
        None,
        ge=1,
        description="Page size; defaults to API_PAGE_SIZE and is capped at API_MAX_PAGE_SIZE.",
    )
    cursor: str | None = Field(None, description="The `next` value of the previous page.")


class OrderOut(Schema):
    id: int
    order_date: datetime.date
    status: OrderStatus
    total_price: Decimal
    priority: str
    customer_id: int
    customer_name: str


class OrderPageOut(CursorPageOut[OrderOut]):
    pass


class LineItemOut(Schema):
    line_number: int
    part_id: int
    part_name: str = Field(alias="part.name")
    supplier_id: int
    supplier_name: str = Field(alias="supplier.name")
    quantity: Decimal
    extended_price: Decimal
    discount: Decimal
    tax: Decimal
    return_flag: str
    line_status: str
    ship_date: datetime.date
    commit_date: datetime.date
    receipt_date: datetime.date
    ship_mode: str
    ship_instructions: str


class OrderDetailOut(Schema):
    id: int
    order_date: datetime.date
    status: OrderStatus
    total_price: Decimal
    priority: str
    clerk: str
    ship_priority: int
    comment: str
    customer_id: int
    customer_name: str = Field(alias="customer.name")
    line_items: list[LineItemOut]

    @staticmethod
    def resolve_line_items(obj) -> list:
        return list(obj.line_items.all())


class CustomerOut(Schema):
    id: int
    name: str
    address: str
    phone: str
    market_segment: str
    account_balance: Decimal
    nation_id: int
    nation_name: str = Field(alias="nation.name")
    order_count: int
    total_spent: Decimal
