"""A nested read through /graphql against the same read through the JSON API.

Usage (on the TPC-H data of DATABASE_URL):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench REDIS_URL=redis://127.0.0.1:6379/11 \\
    .venv/bin/python benchmarks/graphql_round_trips.py [--orders 50] [--rounds 5]

The read: the newest --orders orders, each with its customer's name and its line items.
The JSON API needs one list request and one detail request per order (the list has no
lines); GraphQL asks for all of it in one request. For each, a logged-in test client runs
the read --rounds times, the cache off (what a cold read costs) and on (the JSON API's
cached documents; GraphQL is not cached), and the script prints requests, SQL queries,
response bytes and the CPU time of the whole request path (``time.process_time``, which
a busy machine disturbs little) per read, medians over the rounds. Network latency is not
in these figures: each request over a real network adds one round trip to the JSON API's
column, while the GraphQL read stays at one.
"""

import argparse
import json
import statistics
import sys
import time

import in_process  # noqa: F401  (sets Django up)
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from apps.commerce.models import Order

QUERY = """query($first: Int) { orders(first: $first) {
  id orderDate totalPrice customer { id name }
  lineItems { lineNumber quantity extendedPrice discount tax shipDate }
} }"""


def read_with_the_json_api(client: Client, orders: int) -> tuple[int, int]:
    """(requests, bytes): the list, then each order's detail for its lines."""
    page = client.get(f"/api/commerce/orders?limit={orders}")
    assert page.status_code == 200, page.content
    sizes = [len(page.content)]
    for item in page.json()["items"]:
        detail = client.get(f"/api/commerce/orders/{item['id']}")
        assert detail.status_code == 200, detail.content
        sizes.append(len(detail.content))
    return len(sizes), sum(sizes)


def read_with_graphql(client: Client, orders: int) -> tuple[int, int]:
    body = json.dumps({"query": QUERY, "variables": {"first": orders}})
    response = client.post("/graphql", body, content_type="application/json")
    assert response.status_code == 200 and "errors" not in response.json(), response.content
    assert len(response.json()["data"]["orders"]) == orders
    return 1, len(response.content)


def measured(read, client: Client, orders: int, rounds: int) -> dict[str, float]:
    read(client, orders)  # warms connections, templates and (when on) the cache
    cpu, queries = [], []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.process_time()
            requests, size = read(client, orders)
            cpu.append((time.process_time() - started) * 1000)
        queries.append(len(captured))
    return {
        "requests": requests,
        "queries": statistics.median(queries),
        "bytes": size,
        "cpu": statistics.median(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50, help="Orders read, with their lines.")
    parser.add_argument("--rounds", type=int, default=5, help="Reads measured per row (the median).")
    args = parser.parse_args()
    if Order.objects.count() < args.orders:
        sys.exit(f"graphql_round_trips: needs {args.orders} orders; load TPC-H data (manage.py load_tpch)")
    user, _ = get_user_model().objects.get_or_create(username="benchmark-graphql")
    client = Client()
    client.force_login(user)
    print(f"{args.orders} orders with customer and lines; medians of {args.rounds} reads")
    print(f"{'read':32} {'requests':>8} {'queries':>8} {'bytes':>9} {'CPU ms':>8}")
    for cache in (False, True):
        with override_settings(CACHE_ENABLED=cache):
            for name, read in (("JSON API", read_with_the_json_api), ("GraphQL", read_with_graphql)):
                row = measured(read, client, args.orders, args.rounds)
                label = f"{name}, cache {'on' if cache else 'off'}"
                figures = f"{row['requests']:8d} {row['queries']:8.0f} {row['bytes']:9d} {row['cpu']:8.1f}"
                print(f"{label:32} {figures}")


if __name__ == "__main__":
    main()
