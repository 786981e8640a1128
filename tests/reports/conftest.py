"""TPC-H data for report tests: generated once per session, loaded once per module.

The modules that need data request ``tpch``: it loads scale 0.01 (committed, outside
the tests' transactions) when the module starts and empties the commerce tables when it
ends, so that no other test module ever sees these rows. Tests in those modules use the
plain ``db`` fixture (rolled back), which leaves the loaded rows alone.
"""

from decimal import Decimal

import pytest
from django.core.management.color import no_style
from django.db import connection

from apps.commerce.models import Dataset, Nation, Region
from apps.commerce.services import TABLES, dataset_load
from tests.commerce.factories import (
    customer_create,
    line_item_shipped,
    order_create,
    part_create,
    supplier_create,
)


def commerce_tables_empty() -> None:
    # Referencing tables first: SQLite deletes one table after the other.
    tables = [Dataset._meta.db_table] + [table.model._meta.db_table for table in reversed(TABLES.values())]
    statements = connection.ops.sql_flush(no_style(), tables, allow_cascade=False)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@pytest.fixture(scope="module")
def tpch(django_db_setup, django_db_blocker, tpch_dir):
    with django_db_blocker.unblock():
        dataset_load(scale="0.01", replace=True, directory=tpch_dir)
    yield
    with django_db_blocker.unblock():
        commerce_tables_empty()


@pytest.fixture
def small_data(db):
    """A handful of rows, with text that a spreadsheet would take for formulas.

    Customer 1 (BUILDING, in ASIA) has one order of 1993-11-05 with a returned line item:
    it is the only row of the returned_items report for its default quarter.
    """
    region = Region.objects.create(id=2, name="ASIA")
    nation = Nation.objects.create(id=8, name="INDIA", region=region)
    customer = customer_create(
        id=1,
        name="@Customer#1",
        address='=HYPERLINK("http://example.invalid")',
        nation=nation,
        phone="18-338-906-3675",
        account_balance=Decimal("-275.34"),
        comment="=1+2",
    )
    supplier = supplier_create(
        id=1, name="Supplier#1", address="a", nation=nation, phone="1", account_balance=Decimal("1.00")
    )
    part = part_create(id=1, name="part", manufacturer="m", brand="b", type="t", size=1, container="c")
    orders = []
    for key, day, status, comment in [
        (1, "1993-11-05", "F", "+cmd|' /C calc'!A0"),
        (2, "1996-01-02", "O", "-2+3"),
        (3, "1997-06-30", "F", "plain words"),
    ]:
        order = order_create(id=key, customer=customer, status=status, order_date=day, comment=comment)
        orders.append(order)
        line_item_shipped(
            order=order,
            part=part,
            supplier=supplier,
            quantity=Decimal("10"),
            extended_price=Decimal("1000.00"),
            discount=Decimal("0.10"),
            return_flag="R" if key == 1 else "N",
            line_status="F",
            comment="@line",
        )
    return {"customer": customer, "orders": orders}
