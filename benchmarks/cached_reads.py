"""What the cache saves on the hot read endpoints: CPU per request with caching on and off.

Usage (on the TPC-H data of DATABASE_URL; PostgreSQL + Redis as in production):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_scale REDIS_URL=redis://127.0.0.1:6379/11 \\
    .venv/bin/python benchmarks/cached_reads.py [--requests 300] [--rounds 2]

For each endpoint the load test hits most (an orders page of the API, an order with its
lines, a customer summary, the HTML orders page), a logged-in test client requests
--requests different ids twice (the first pass fills the cache) and measures the CPU
time (``time.process_time``) of the second pass, with ``CACHE_ENABLED`` on and off in
alternating rounds. The whole request path is measured: middleware, session, user, the
view and the response. CPU in one process is a figure a busy machine disturbs little.
"""

import argparse
import statistics
import sys
import time

import in_process  # noqa: F401  (sets Django up)
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from apps.commerce.models import Order


def endpoints(requests: int) -> dict[str, list[str]]:
    orders = list(Order.objects.order_by("id").values_list("id", "customer_id")[:requests])
    if len(orders) < requests:
        sys.exit(
            f"cached_reads: needs {requests} orders; load TPC-H data first (manage.py load_tpch --scale 0.1)"
        )
    return {
        "GET /api/commerce/orders?limit=20&status=…": [
            f"/api/commerce/orders?limit=20&status={'OFP'[i % 3]}&customer={customer}"
            for i, (_, customer) in enumerate(orders)
        ],
        "GET /api/commerce/orders/{id}": [f"/api/commerce/orders/{order}" for order, _ in orders],
        "GET /api/commerce/customers/{id}": [f"/api/commerce/customers/{customer}" for _, customer in orders],
        "GET /orders/?customer=… (HTML)": [f"/orders/?customer={customer}" for _, customer in orders],
    }


def cpu_per_request(client: Client, urls: list[str]) -> float:
    for url in urls:  # fills the cache (when on), warms connections and templates
        client.get(url)
    started = time.process_time()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    return (time.process_time() - started) / len(urls) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="Different ids per endpoint.")
    parser.add_argument("--rounds", type=int, default=2, help="Rounds of caching on and off.")
    args = parser.parse_args()
    user, _ = get_user_model().objects.get_or_create(username="benchmark-cached-reads")
    client = Client()
    client.force_login(user)
    results: dict[tuple[str, bool], list[float]] = {}
    for _ in range(args.rounds):
        for name, urls in endpoints(args.requests).items():
            for enabled in (True, False):
                with override_settings(CACHE_ENABLED=enabled):
                    results.setdefault((name, enabled), []).append(cpu_per_request(client, urls))
    print(f"CPU per request (ms), median of {args.rounds} rounds of {args.requests} requests")
    print(f"{'endpoint':44} {'cache off':>10} {'cache on':>10} {'saved':>7}")
    for name in endpoints(args.requests):
        off = statistics.median(results[(name, False)])
        on = statistics.median(results[(name, True)])
        print(f"{name:44} {off:10.2f} {on:10.2f} {1 - on / off:7.0%}")


if __name__ == "__main__":
    main()
