"""The commerce JSON API: orders list (the model for list endpoints), order, customer."""

import datetime
from decimal import Decimal

import pytest

from apps.commerce.models import LineItem, Nation, Region
from apps.core.cursor import cursor_encode
from apps.core.services import api_token_create
from tests.commerce.factories import (
    customer_create,
    line_item_shipped,
    order_create,
    part_create,
    supplier_create,
)

pytestmark = pytest.mark.django_db

ORDERS_URL = "/api/commerce/orders"


def commerce_world() -> dict:
    """A small TPC-H world: 2 nations, 3 customers, 9 orders, 3 line items per order.

    Orders 1-9 are dated 1995-01-01 .. 1995-01-05 with two orders on most days, so that
    pages break inside a day and the (order_date, id) tie-break matters.
    """
    region = Region.objects.create(id=0, name="EUROPE")
    france = Nation.objects.create(id=6, name="FRANCE", region=region)
    germany = Nation.objects.create(id=7, name="GERMANY", region=region)
    customers = [customer_create(id=index, nation=france if index != 3 else germany) for index in (1, 2, 3)]
    supplier = supplier_create(id=1, nation=germany)
    parts = [part_create(id=index, name=f"blue steel part {index}") for index in (1, 2, 3)]
    statuses = "OFPOFPOFO"
    orders = []
    for index in range(1, 10):
        order = order_create(
            id=index,
            customer=customers[0] if index <= 5 else customers[1],
            status=statuses[index - 1],
            total_price=Decimal(f"{index}000.50"),
            order_date=datetime.date(1995, 1, 1) + datetime.timedelta(days=(index - 1) // 2),
        )
        orders.append(order)
        for line_number, part in enumerate(parts, start=1):
            line_item_shipped(
                order=order,
                part=part,
                supplier=supplier,
                line_number=line_number,
                tax=Decimal("0.08"),
                return_flag=LineItem.ReturnFlag.NONE,
                line_status=LineItem.LineStatus.OPEN,
                ship_date=order.order_date + datetime.timedelta(days=3),
                commit_date=order.order_date + datetime.timedelta(days=5),
                receipt_date=order.order_date + datetime.timedelta(days=7),
                ship_instructions="DELIVER IN PERSON",
                ship_mode="TRUCK",
            )
    return {"customers": customers, "orders": orders, "parts": parts}


@pytest.fixture
def commerce_data() -> dict:
    return commerce_world()


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["items"]]


def test_orders_come_newest_first_with_customer_names(alice_client, commerce_data):
    response = alice_client.get(ORDERS_URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert ids(response) == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert body["next"] is None
    assert body["next_url"] is None
    assert body["items"][0] == {
        "id": 9,
        "order_date": "1995-01-05",
        "status": "O",
        "total_price": "9000.50",
        "priority": "1-URGENT",
        "customer_id": 2,
        "customer_name": "Customer#000000002",
    }


def test_cursor_walks_every_order_once_across_pages(alice_client, commerce_data):
    seen = []
    url = ORDERS_URL + "?limit=2"
    pages = 0
    while url:
        response = alice_client.get(url)
        assert response.status_code == 200, response.content
        seen += ids(response)
        url = response.json()["next_url"]
        pages += 1
    assert seen == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert pages == 5


def test_next_url_keeps_the_filters(alice_client, commerce_data):
    response = alice_client.get(ORDERS_URL, {"customer": 1, "limit": 2})
    body = response.json()
    assert ids(response) == [5, 4]
    assert "customer=1" in body["next_url"]
    assert body["next_url"].startswith("http://testserver/api/commerce/orders?")
    second = alice_client.get(ORDERS_URL, {"customer": 1, "limit": 2, "cursor": body["next"]})
    assert ids(second) == [3, 2]


def test_orders_filter_by_customer_status_and_dates(alice_client, commerce_data):
    assert ids(alice_client.get(ORDERS_URL, {"customer": 2})) == [9, 8, 7, 6]
    assert ids(alice_client.get(ORDERS_URL, {"status": "P"})) == [6, 3]
    assert ids(alice_client.get(ORDERS_URL, {"date_from": "1995-01-02", "date_to": "1995-01-03"})) == [
        6,
        5,
        4,
        3,
    ]
    assert ids(alice_client.get(ORDERS_URL, {"customer": 3})) == []


def test_limit_defaults_to_the_page_size_and_is_capped(alice_client, commerce_data, settings):
    settings.API_PAGE_SIZE = 3
    settings.API_MAX_PAGE_SIZE = 4
    assert ids(alice_client.get(ORDERS_URL)) == [9, 8, 7]
    assert ids(alice_client.get(ORDERS_URL, {"limit": 100})) == [9, 8, 7, 6]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"status": "X"}, "status"),
        ({"date_from": "1995-13-01"}, "date_from"),
        ({"customer": "abc"}, "customer"),
        ({"limit": 0}, "limit"),
        ({"date_from": "1995-02-01", "date_to": "1995-01-01"}, "date_from (1995-02-01) is after date_to"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": cursor_encode(["yesterday", 5])}, "cursor"),
    ],
)
def test_bad_filters_get_422_with_a_message(alice_client, commerce_data, params, fragment):
    response = alice_client.get(ORDERS_URL, params)
    assert response.status_code == 422, response.content
    message = response.json()["message"]
    assert message.startswith("Invalid input")
    assert fragment in message


@pytest.mark.parametrize("limit", [1, 9])
def test_orders_list_query_count_does_not_grow_with_page_size(
    client, alice, commerce_data, django_assert_max_num_queries, limit
):
    _, raw = api_token_create(user=alice)
    # Token lookup (with its user), the last-used touch, the page: three queries.
    with django_assert_max_num_queries(3):
        response = client.get(ORDERS_URL, {"limit": limit}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert len(response.json()["items"]) == limit


def test_orders_list_with_a_session_costs_three_queries(
    alice_client, commerce_data, django_assert_max_num_queries
):
    # Session, user, the page.
    with django_assert_max_num_queries(3):
        response = alice_client.get(ORDERS_URL, {"limit": 9, "status": "O"})
    assert ids(response) == [9, 7, 4, 1]


def test_order_detail_has_its_line_items_in_two_queries(
    alice_client, commerce_data, django_assert_max_num_queries
):
    # Session, user, order with customer, line items with parts and supplier.
    with django_assert_max_num_queries(4):
        response = alice_client.get(f"{ORDERS_URL}/6")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == 6
    assert body["customer_name"] == "Customer#000000002"
    assert body["status"] == "P"
    assert [line["line_number"] for line in body["line_items"]] == [1, 2, 3]
    first = body["line_items"][0]
    assert first["part_name"] == "blue steel part 1"
    assert first["supplier_name"] == "Supplier#000000001"
    assert first["extended_price"] == "1802.00"
    assert first["ship_date"] == "1995-01-06"


def test_unknown_order_is_404_json(alice_client, commerce_data):
    response = alice_client.get(f"{ORDERS_URL}/424242")
    assert response.status_code == 404
    assert response.json() == {"message": "Order 424242 does not exist."}


def test_customer_has_nation_order_count_and_total_spent(
    alice_client, commerce_data, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        response = alice_client.get("/api/commerce/customers/1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Customer#000000001"
    assert body["nation_name"] == "FRANCE"
    assert body["order_count"] == 5
    # 1000.50 + 2000.50 + ... + 5000.50
    assert Decimal(body["total_spent"]) == Decimal("15002.50")


def test_customer_without_orders_has_zero_spent(alice_client, commerce_data):
    body = alice_client.get("/api/commerce/customers/3").json()
    assert body["nation_name"] == "GERMANY"
    assert body["order_count"] == 0
    assert Decimal(body["total_spent"]) == 0


def test_unknown_customer_is_404_json(alice_client, commerce_data):
    response = alice_client.get("/api/commerce/customers/99")
    assert response.status_code == 404
    assert response.json() == {"message": "Customer 99 does not exist."}


def test_anonymous_gets_401_json(client, commerce_data):
    for url in (ORDERS_URL, f"{ORDERS_URL}/1", "/api/commerce/customers/1"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert "Authentication required" in response.json()["message"]
