"""Endless scroll on the orders list and an order's line items: htmx asks for the next
keyset page as the sentinel after the last row scrolls into view, and gets only rows."""

import datetime
import html
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from apps.commerce import selectors, views
from apps.commerce.models import Order
from tests.commerce.factories import line_item_shipped
from tests.commerce.test_api import commerce_world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ROW_LINK = re.compile(r'<a href="/orders/(\d+)/">')
SENTINEL = re.compile(
    r'<tr class="endless-more" hx-get="([^"]+)" hx-trigger="intersect once" hx-swap="outerHTML">'
)


@pytest.fixture
def orders(monkeypatch) -> list[Order]:
    """The nine orders of the small world, four to a page (pages of 4, 4 and 1)."""
    monkeypatch.setattr(views, "ORDERS_PER_PAGE", 4)
    return commerce_world()["orders"]


def newest_first(orders: list[Order]) -> list[int]:
    newest = sorted(orders, key=lambda order: (order.order_date, order.id), reverse=True)
    return [order.id for order in newest]


def order_ids(body: str) -> list[int]:
    return [int(number) for number in ROW_LINK.findall(body)]


def next_url(body: str, base: str = "/orders/") -> str | None:
    """The sentinel's URL (a query relative to the page, as the browser resolves it)."""
    found = SENTINEL.findall(body)
    assert len(found) <= 1, "one sentinel per page"
    return urljoin(base, html.unescape(found[0])) if found else None


def cursor_of(url: str, name: str) -> str:
    return parse_qs(urlsplit(url).query)[name][0]


def test_the_orders_page_ends_with_a_sentinel_for_the_next_page_and_keeps_its_pager(alice_client, orders):
    body = alice_client.get("/orders/").content.decode()
    first_page = newest_first(orders)[:4]
    assert order_ids(body) == first_page
    url = next_url(body)
    # The sentinel's cursor is the last row's key, as the pager's "Older" link has it.
    last = Order.objects.get(id=first_page[-1])
    assert selectors.ORDER_KEYSET.decode(cursor_of(url, "after")) == (last.order_date, last.id)
    assert 'rel="next">Older' in body
    assert re.search(r'<script src="[^"]*/htmx[^"]*\.js"', body)


def test_an_htmx_request_for_the_next_page_gets_only_its_rows_and_the_next_sentinel(alice_client, orders):
    url = next_url(alice_client.get("/orders/").content.decode())
    response = alice_client.get(url, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "<thead" not in body and "<form" not in body
    assert order_ids(body) == newest_first(orders)[4:8]
    assert "HX-Request" in response["Vary"]
    following = next_url(body)
    assert selectors.ORDER_KEYSET.decode(cursor_of(following, "after")) == (
        datetime.date(1995, 1, 1),
        2,
    )


def test_following_the_sentinels_shows_every_order_once_and_the_last_page_has_none(alice_client, orders):
    body = alice_client.get("/orders/").content.decode()
    seen, url, pages = order_ids(body), next_url(body), 1
    while url:
        body = alice_client.get(url, **HTMX).content.decode()
        seen += order_ids(body)
        url, pages = next_url(body), pages + 1
    assert pages == 3
    assert seen == newest_first(orders)
    assert "Older orders" not in body


def test_a_filtered_list_continues_with_its_filters(alice_client, orders, monkeypatch):
    monkeypatch.setattr(views, "ORDERS_PER_PAGE", 2)
    body = alice_client.get("/orders/?customer=1").content.decode()
    url = next_url(body)
    query = parse_qs(urlsplit(url).query)
    assert query["customer"] == ["1"]
    rest = order_ids(alice_client.get(url, **HTMX).content.decode())
    assert rest and all(Order.objects.get(id=number).customer_id == 1 for number in rest)


@pytest.mark.parametrize("page", [2, 3])
def test_an_appended_page_costs_the_same_few_queries_however_deep(
    alice_client, orders, page, django_assert_max_num_queries
):
    url = next_url(alice_client.get("/orders/").content.decode())
    for _ in range(page - 2):
        url = next_url(alice_client.get(url, **HTMX).content.decode())
    # Session, user, one keyset query for the page (its rows are cached after).
    with django_assert_max_num_queries(3):
        response = alice_client.get(url, **HTMX)
    assert order_ids(response.content.decode())


def test_anonymous_htmx_request_for_a_page_gets_no_rows(client, orders):
    response = client.get("/orders/?after=WzE5OTUsMV0", **HTMX)
    assert response.status_code in (302, 401)
    assert not order_ids(response.content.decode())


# --- Line items of a big order ---------------------------------------------------------


@pytest.fixture
def big_order(monkeypatch) -> Order:
    """Order 1 with 10 line items, shown 4 at a time."""
    monkeypatch.setattr(views, "LINE_ITEMS_PER_PAGE", 4)
    world = commerce_world()
    order = world["orders"][0]
    supplier = order.line_items.first().supplier
    for line_number in range(4, 11):
        line_item_shipped(order=order, part=world["parts"][0], supplier=supplier, line_number=line_number)
    return order


def line_numbers(body: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr>\s*<td class="num">(\d+)</td>', body)]


def test_an_order_page_shows_its_first_line_items_and_a_sentinel_for_more(alice_client, big_order):
    body = alice_client.get(f"/orders/{big_order.id}/").content.decode()
    assert line_numbers(body) == [1, 2, 3, 4]
    assert selectors.LINE_ITEM_KEYSET.decode(cursor_of(next_url(body), "lines")) == (4,)


def test_the_line_items_of_a_big_order_load_page_by_page_until_the_last(alice_client, big_order):
    body = alice_client.get(f"/orders/{big_order.id}/").content.decode()
    page = f"/orders/{big_order.id}/"
    seen, url = line_numbers(body), next_url(body, page)
    while url:
        response = alice_client.get(url, **HTMX)
        body = response.content.decode()
        assert "<html" not in body and "<thead" not in body
        seen += line_numbers(body)
        url = next_url(body, page)
    assert seen == list(range(1, 11))
    assert "More line items" not in body


def test_without_javascript_the_more_link_opens_the_next_line_items_in_a_page(alice_client, big_order):
    url = next_url(alice_client.get(f"/orders/{big_order.id}/").content.decode(), f"/orders/{big_order.id}/")
    body = alice_client.get(url).content.decode()
    assert f"<h1>Order {big_order.id}</h1>" in body
    assert line_numbers(body) == [5, 6, 7, 8]
    assert "« First line items" in body


def test_a_page_of_line_items_costs_three_queries(alice_client, big_order, django_assert_max_num_queries):
    url = next_url(alice_client.get(f"/orders/{big_order.id}/").content.decode(), f"/orders/{big_order.id}/")
    # Session, user, the page of lines with part and supplier joined.
    with django_assert_max_num_queries(3):
        response = alice_client.get(url, **HTMX)
    assert line_numbers(response.content.decode()) == [5, 6, 7, 8]


def test_line_items_of_an_order_that_does_not_exist_are_404(alice_client, big_order):
    cursor = selectors.LINE_ITEM_KEYSET.encode((4,))
    assert alice_client.get(f"/orders/999999/?lines={cursor}", **HTMX).status_code == 404
    assert alice_client.get(f"/orders/999999/?lines={cursor}").status_code == 404


def test_a_damaged_line_cursor_shows_the_first_line_items(alice_client, big_order):
    body = alice_client.get(f"/orders/{big_order.id}/?lines=not-a-cursor").content.decode()
    assert line_numbers(body) == [1, 2, 3, 4]
