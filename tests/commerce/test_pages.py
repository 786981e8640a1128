"""Commerce pages and the commerce admin: access, content, bounded query counts."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.commerce.models import Dataset
from tests.commerce.test_api import commerce_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def commerce_data() -> dict:
    return commerce_world()


PAGES = ["/", "/orders/", "/orders/1/"]


def order_numbers(response) -> list[int]:
    return [int(number) for number in re.findall(r'<a href="/orders/(\d+)/">', response.content.decode())]


@pytest.fixture
def html_within(django_assert_max_num_queries):
    """GET a page that answers 200 in at most ``queries`` queries; its HTML."""

    def get(client, url: str, *, queries: int) -> str:
        with django_assert_max_num_queries(queries):
            response = client.get(url)
        assert response.status_code == 200
        return response.content.decode()

    return get


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client, commerce_data, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_home_links_to_orders_api_docs_and_shows_the_data_set(alice_client, html_within):
    Dataset.objects.create(scale="0.01", row_counts={"orders": 15000, "line_items": 60175}, seconds=4.2)
    # Session, user, data set.
    html = html_within(alice_client, "/", queries=3)
    assert 'href="/orders/"' in html
    assert 'href="/api/docs"' in html
    assert "TPC-H scale 0.01" in html
    assert "60,175" in html
    # Only staff see the way to the admin.
    assert 'href="/admin/"' not in html


def test_home_offers_the_admin_to_staff(ops_client):
    html = ops_client.get("/").content.decode()
    assert 'href="/admin/"' in html
    assert "No TPC-H data loaded yet" in html


def test_orders_page_lists_newest_first_in_three_queries(
    alice_client, commerce_data, django_assert_max_num_queries
):
    # Session, user, one page of orders with customer names.
    with django_assert_max_num_queries(3):
        response = alice_client.get("/orders/")
    assert response.status_code == 200
    assert order_numbers(response) == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    html = response.content.decode()
    assert "Customer#000000002" in html
    assert "9,000.50" in html
    assert "Partially fulfilled" in html
    assert 'rel="next"' not in html


def test_orders_pager_goes_older_and_back_newer(alice_client, commerce_data, monkeypatch):
    monkeypatch.setattr("apps.commerce.views.ORDERS_PER_PAGE", 4)
    first = alice_client.get("/orders/", {"status": "", "customer": ""})
    assert order_numbers(first) == [9, 8, 7, 6]
    older = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode()).group(1).replace("&amp;", "&")
    second = alice_client.get(f"/orders/?{older}")
    assert order_numbers(second) == [5, 4, 3, 2]
    html = second.content.decode()
    newer = re.search(r'href="\?([^"]+)" rel="prev"', html).group(1).replace("&amp;", "&")
    oldest = re.search(r'href="\?([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert order_numbers(alice_client.get(f"/orders/?{newer}")) == [9, 8, 7, 6]
    last = alice_client.get(f"/orders/?{oldest}")
    assert order_numbers(last) == [1]
    assert 'rel="next"' not in last.content.decode()


def test_orders_page_table_is_cached_until_an_order_changes(alice_client, commerce_data, monkeypatch):
    monkeypatch.setattr("apps.commerce.views.ORDERS_PER_PAGE", 4)
    first = alice_client.get("/orders/")
    with CaptureQueriesContext(connection) as queries:
        assert order_numbers(alice_client.get("/orders/")) == [9, 8, 7, 6]
    assert not [query for query in queries if "commerce_" in query["sql"]]
    # The page after and the page before the same order are different pages.
    older = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode()).group(1).replace("&amp;", "&")
    second = alice_client.get(f"/orders/?{older}")
    assert order_numbers(second) == [5, 4, 3, 2]
    newer = re.search(r'href="\?([^"]+)" rel="prev"', second.content.decode()).group(1).replace("&amp;", "&")
    assert order_numbers(alice_client.get(f"/orders/?{newer}")) == [9, 8, 7, 6]
    commerce_data["orders"][8].delete()
    assert order_numbers(alice_client.get("/orders/")) == [8, 7, 6, 5]


def test_orders_page_filters_keep_through_pages(alice_client, commerce_data, monkeypatch):
    monkeypatch.setattr("apps.commerce.views.ORDERS_PER_PAGE", 2)
    first = alice_client.get("/orders/", {"customer": 1, "date_from": "1995-01-01", "date_to": "1995-01-03"})
    assert order_numbers(first) == [5, 4]
    older = re.search(r'href="\?([^"]+)" rel="next"', first.content.decode()).group(1).replace("&amp;", "&")
    assert "customer=1" in older
    assert order_numbers(alice_client.get(f"/orders/?{older}")) == [3, 2]


def test_orders_page_filters_by_status(alice_client, commerce_data):
    assert order_numbers(alice_client.get("/orders/", {"status": "F"})) == [8, 5, 2]


def test_orders_page_explains_bad_filters(alice_client, commerce_data):
    response = alice_client.get(
        "/orders/", {"customer": "abc", "status": "X", "date_from": "1995-02-01", "date_to": "1995-01-01"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert order_numbers(response) == []
    assert "Enter a whole number." in html
    assert "Select a valid choice." in html
    assert "Must be on or after the start date (1995-02-01)." in html
    assert "Fix the filters above" in html


def test_orders_page_ignores_a_damaged_pager_link(alice_client, commerce_data):
    assert order_numbers(alice_client.get("/orders/", {"after": "garbage"})) == [9, 8, 7, 6, 5, 4, 3, 2, 1]


def test_order_page_shows_line_items_in_four_queries(alice_client, commerce_data, html_within):
    # Session, user, order with customer, line items with part and supplier.
    html = html_within(alice_client, "/orders/6/", queries=4)
    for shown in ("Order 6", "Customer#000000002", "Partially fulfilled", "Supplier#000000001", "1,802.00"):
        assert shown in html
    assert html.count("blue steel part") == 3


def test_unknown_order_page_is_404(alice_client, commerce_data):
    assert alice_client.get("/orders/424242/").status_code == 404


# --- Admin ---------------------------------------------------------------------------

ADMIN_LISTS = [
    "region",
    "nation",
    "supplier",
    "part",
    "partsupplier",
    "customer",
    "order",
    "lineitem",
    "dataset",
]


@pytest.fixture
def ops_viewer(ops_client, ops):
    """ops with view permission on the commerce tables (staff alone sees nothing)."""
    ops.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="commerce", codename__startswith="view_")
    )
    return ops_client


def test_ordinary_users_cannot_open_the_commerce_admin(alice_client):
    response = alice_client.get("/admin/commerce/order/")
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.parametrize("model", ADMIN_LISTS)
def test_admin_lists_stay_within_a_query_budget(
    ops_viewer, commerce_data, django_assert_max_num_queries, model
):
    # Session, user, permissions (twice), the page's count, its rows, a related filter's choices.
    with django_assert_max_num_queries(7):
        response = ops_viewer.get(f"/admin/commerce/{model}/")
    assert response.status_code == 200


def test_admin_order_list_searches_by_order_and_customer_number(ops_viewer, commerce_data):
    html = ops_viewer.get("/admin/commerce/order/", {"q": "7"}).content.decode()
    assert "/admin/commerce/order/7/change/" in html
    assert "/admin/commerce/order/8/change/" not in html
    by_customer = ops_viewer.get("/admin/commerce/order/", {"q": "2"}).content.decode()
    assert "/admin/commerce/order/9/change/" in by_customer


def test_admin_order_is_read_only_with_its_line_items(ops_viewer, commerce_data, html_within):
    # Session, user, permissions (twice), order with customer, line items with parts,
    # and the content type when its process-wide cache is cold.
    html = html_within(ops_viewer, "/admin/commerce/order/6/change/", queries=7)
    assert "blue steel part 1" in html
    assert 'name="_save"' not in html
    assert ops_viewer.get("/admin/commerce/order/add/").status_code == 403
    assert ops_viewer.post("/admin/commerce/order/6/delete/", {"post": "yes"}).status_code == 403
