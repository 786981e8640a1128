"""The orders list in a real browser: scrolling to its end appends the next keyset page,
and rows far off screen are skipped by content-visibility."""

import datetime
from decimal import Decimal

import pytest

from apps.commerce import documents
from apps.commerce.models import Customer, Nation, Order, Region
from apps.core import caching
from tests.browser.test_job_progress import log_in
from tests.commerce.factories import customer_create

pytestmark = pytest.mark.browser

ORDERS = 120  # two full pages of 50 and a last one of 20
ROWS = "#order-rows tr:not(.endless-more)"
ROW_IDS = """() => [...document.querySelectorAll('#order-rows tr:not(.endless-more) td:nth-child(2) a')]
  .map(link => Number(link.textContent))"""


@pytest.fixture
def many_orders() -> list[int]:
    """ORDERS orders, three a day; their ids newest first, as the list shows them."""
    region = Region.objects.create(id=0, name="EUROPE")
    customer: Customer = customer_create(
        id=1, nation=Nation.objects.create(id=6, name="FRANCE", region=region)
    )
    first_day = datetime.date(1996, 1, 1)
    Order.objects.bulk_create(
        Order(
            id=number,
            customer=customer,
            order_date=first_day + datetime.timedelta(days=number // 3),
            status="O",
            total_price=Decimal("1000.00"),
            priority="1-URGENT",
            clerk="Clerk#000000001",
            ship_priority=0,
        )
        for number in range(1, ORDERS + 1)
    )
    # bulk_create sends no post_save: the cached pages of earlier runs must not answer.
    caching.namespace_bump(documents.CACHE_NAMESPACE)
    return sorted(range(1, ORDERS + 1), key=lambda number: (number // 3, number), reverse=True)


def scroll_to_end_and_wait_for(page, rows: int) -> None:
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length >= {rows}")


def test_scrolling_to_the_end_of_the_orders_appends_the_next_pages(
    tempo_processes, browser_page, alice, many_orders
):
    base_url, page = tempo_processes["base_url"], browser_page
    log_in(page, base_url, alice)
    fragments = []
    page.on(
        "response",
        lambda response: (
            fragments.append(response.status)
            if response.request.headers.get("hx-request") == "true"
            else None
        ),
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base_url}/orders/")
    assert page.evaluate(ROW_IDS) == many_orders[:50]

    scroll_to_end_and_wait_for(page, 100)
    assert page.evaluate(ROW_IDS) == many_orders[:100]
    scroll_to_end_and_wait_for(page, ORDERS)
    ids = page.evaluate(ROW_IDS)
    assert ids == many_orders and len(set(ids)) == ORDERS
    # The last page has no sentinel, so nothing more is asked for.
    assert page.locator("#order-rows tr.endless-more").count() == 0
    assert fragments == [200, 200]
    # The pager links stay for a browser without JS.
    assert page.locator('nav.pager a[rel="next"]').count() == 1

    # Back at the top, the cells of a row far below are skipped (not laid out or painted).
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_function(
        """() => {
          const rows = document.querySelectorAll('#order-rows tr');
          const shown = (row) => row.cells[0].checkVisibility({contentVisibilityAuto: true});
          return !shown(rows[rows.length - 1]) && shown(rows[0]);
        }"""
    )
