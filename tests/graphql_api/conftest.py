"""Posting GraphQL documents as a client would, and the commerce rows the queries read."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from apps.commerce.models import Nation, Region
from apps.core.services import api_token_create
from tests.commerce.factories import (
    customer_create,
    line_item_shipped,
    order_create,
    part_create,
    supplier_create,
)

GRAPHQL_URL = "/graphql"


def graphql(client: Client, query: str, variables: dict | None = None, **headers):
    """POST a document as JSON; the response, its body parsed in ``response.data``."""
    body = {"query": query, "variables": variables or {}}
    response = client.post(GRAPHQL_URL, json.dumps(body), content_type="application/json", **headers)
    response.data = response.json() if response["Content-Type"].startswith("application/json") else None
    return response


def bearer_for(user) -> dict:
    _, raw = api_token_create(user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def counted_client(alice, settings):
    """alice logged in with her session in a signed cookie: reading it costs no query with
    Redis or without, so that a request's queries are its user's and its own."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    # The user is read by a query on every request (not from the user cache), as counted here.
    settings.USER_CACHE_SECONDS = 0
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def orders_with_lines(db):
    """Fifty orders of five customers, three line items each, dated one day apart."""
    region = Region.objects.create(id=0, name="EUROPE")
    nation = Nation.objects.create(id=7, name="GERMANY", region=region)
    supplier = supplier_create(id=1, nation=nation)
    part = part_create(id=1)
    customers = [customer_create(id=number, nation=nation) for number in range(1, 6)]
    orders = []
    for number in range(1, 51):
        order = order_create(
            id=number,
            customer=customers[number % 5],
            order_date=f"1995-{1 + number // 28:02d}-{1 + number % 28:02d}",
            total_price=Decimal(number),
        )
        for line in range(1, 4):
            line_item_shipped(order=order, part=part, supplier=supplier, line_number=line)
        orders.append(order)
    return orders
