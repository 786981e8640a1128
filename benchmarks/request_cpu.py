"""CPU per request of the load test's read mix, in one process, per endpoint.

Usage (TPC-H data loaded; PostgreSQL + Redis as in production):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_xd REDIS_URL=redis://127.0.0.1:6379/7 \\
    .venv/bin/python benchmarks/request_cpu.py [--requests 200] [--rounds 3] \\
        [--variant name:SETTING=value,SETTING=value ...] [--profile]

The requests are the GETs of ``loadtest/locustfile.py``'s users, weighted as there (per
second of a browsing user and an API client): session-authenticated order pages, order
and customer details, the HTML orders page, notifications and the report catalog; token
clients with status filters, If-None-Match on order details (304s) and customers. They
go through the project's WSGI application itself (every middleware, the session, the
user, the view, the response), called directly: no server, no test client. The cache is
warm (each URL is requested once before the measured pass), as in the load test.

Each ``--variant`` is a set of settings applied with ``override_settings`` and a fresh
WSGI handler (so MIDDLEWARE and SESSION_ENGINE changes take effect); the variants run
alternately, ``--rounds`` times, and the table gives each one's median CPU per request
(``time.process_time``, which a busy machine disturbs little). "current" is the settings
of the environment. ``--profile`` runs cProfile over one pass of "current" instead.
"""

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import in_process  # noqa: F401  (sets Django up)
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings

from apps.commerce.models import Customer, Order
from apps.core.services import api_token_create
from apps.core.session_users import session_issue

# Requests per second that one browsing user (weight 4, a task every 2 s) and one API client
# (weight 1, a task every 1.25 s) make of each endpoint, from the locustfile's task weights.
MIX = {
    "session GET /api/commerce/orders": 0.556,
    "session GET /api/commerce/orders?cursor": 0.556,
    "session GET /api/commerce/orders/{id}": 0.444,
    "session GET /api/commerce/customers/{id}": 0.888,
    "session GET /orders/ (HTML)": 0.222,
    "session GET /api/notifications": 0.222,
    "session GET /api/reports/catalog": 0.111,
    "token GET /api/commerce/orders?status": 0.3,
    "token GET /api/commerce/orders/{id} (304)": 0.3,
    "token GET /api/commerce/customers/{id}": 0.2,
}


@dataclass(frozen=True)
class Call:
    path: str
    query: str = ""
    session: bool = True
    etag: bool = False


def hot_customers(ids: list[int], count: int, rng: random.Random) -> list[int]:
    """The locustfile's skew: most requests for the first few hundred customers."""
    picks = []
    for _ in range(count):
        index = min(int(rng.paretovariate(1.2)) - 1, len(ids) - 1)
        picks.append(ids[index * 7 % len(ids)])
    return picks


def calls(requests: int) -> dict[str, list[Call]]:
    rng = random.Random(14)
    order_ids = list(Order.objects.order_by("-order_date", "-id").values_list("id", flat=True)[:2000])
    customer_ids = list(Customer.objects.order_by("id").values_list("id", flat=True)[:5000])
    if not order_ids or not customer_ids:
        sys.exit("request_cpu: no TPC-H data: run `manage.py load_tpch --scale 0.1` first.")
    orders = [rng.choice(order_ids) for _ in range(requests)]
    customers = hot_customers(customer_ids, requests, rng)
    return {
        "session GET /api/commerce/orders": [Call("/api/commerce/orders", "limit=20")] * requests,
        # The second page of each status: the cursor is read from the first (below).
        "session GET /api/commerce/orders?cursor": [Call("/api/commerce/orders", "limit=20&cursor=")]
        * requests,
        "session GET /api/commerce/orders/{id}": [Call(f"/api/commerce/orders/{o}") for o in orders],
        "session GET /api/commerce/customers/{id}": [Call(f"/api/commerce/customers/{c}") for c in customers],
        "session GET /orders/ (HTML)": [Call("/orders/")] * requests,
        "session GET /api/notifications": [Call("/api/notifications")] * requests,
        "session GET /api/reports/catalog": [Call("/api/reports/catalog")] * requests,
        "token GET /api/commerce/orders?status": [
            Call("/api/commerce/orders", f"status={rng.choice('OFP')}&limit=50", session=False)
            for _ in range(requests)
        ],
        "token GET /api/commerce/orders/{id} (304)": [
            Call(f"/api/commerce/orders/{o}", session=False, etag=True) for o in order_ids[:200]
        ][:requests],
        "token GET /api/commerce/customers/{id}": [
            Call(f"/api/commerce/customers/{c}", session=False) for c in customers
        ],
    }


class Client:
    """Calls a WSGI application directly with the headers the load test's users send."""

    def __init__(self, *, cookie: str, token: str) -> None:
        self.app = WSGIHandler()
        self.cookie = cookie
        self.token = token
        self.etags: dict[str, str] = {}
        self.cursor = ""

    def environ(self, call: Call) -> dict:
        query = call.query + self.cursor if call.query.endswith("cursor=") else call.query
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": call.path,
            "QUERY_STRING": query,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "HTTP_ACCEPT_ENCODING": "gzip",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if call.session:
            environ["HTTP_COOKIE"] = f"{settings.SESSION_COOKIE_NAME}={self.cookie}"
        else:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
            if call.etag and call.path in self.etags:
                environ["HTTP_IF_NONE_MATCH"] = self.etags[call.path]
        return environ

    def get(self, call: Call) -> tuple[str, bytes]:
        status_headers: list = []
        body = self.app(
            self.environ(call),
            lambda status, headers, exc_info=None: status_headers.extend((status, headers)),
        )
        try:
            content = b"".join(body)
        finally:
            body.close()
        status, headers = status_headers
        if call.etag:
            etag = next((value for name, value in headers if name == "ETag"), None)
            if etag:
                self.etags[call.path] = etag
        return status, content

    def first_cursor(self) -> None:
        status, content = self.get(Call("/api/commerce/orders", "limit=20"))
        assert status.startswith("200"), status
        self.cursor = json.loads(content)["next"] or ""


def cpu_per_request(client: Client, batch: list[Call]) -> float:
    for call in batch:  # fills the cache, warms connections and templates, learns ETags
        client.get(call)
    started = time.process_time()
    for call in batch:
        status, _ = client.get(call)
        assert status[:3] in ("200", "304"), (call, status)
    return (time.process_time() - started) / len(batch) * 1000


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, assignments = text.partition(":")
    values: dict = {}
    for assignment in filter(None, assignments.split(",")):
        key, _, raw = assignment.partition("=")
        values[key] = raw if not raw.lstrip("-").isdigit() else int(raw)
    return name, values


@contextmanager
def variant_client(values: dict, *, user, token: str) -> Iterator[Client]:
    with override_settings(**values):
        client = Client(cookie=session_issue(user=user), token=token)
        client.first_cursor()
        yield client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="Requests per endpoint per pass.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of every variant, alternating.")
    parser.add_argument("--variant", action="append", default=[], help="name:SETTING=value,...")
    parser.add_argument("--profile", action="store_true", help="cProfile one pass of the current settings.")
    args = parser.parse_args()
    user, _ = get_user_model().objects.get_or_create(username="benchmark-request-cpu")
    _, token = api_token_create(user=user, name="request_cpu benchmark")
    batches = calls(args.requests)
    variants = [("current", {})] + [parse_variant(text) for text in args.variant]

    if args.profile:
        with variant_client({}, user=user, token=token) as client:
            for batch in batches.values():
                cpu_per_request(client, batch)
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for batch in batches.values():
                for call in batch:
                    client.get(call)
            profile.disable()
        stats = pstats.Stats(profile).strip_dirs()
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        return

    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, values in variants:
            with variant_client(values, user=user, token=token) as client:
                for endpoint, batch in batches.items():
                    results.setdefault((name, endpoint), []).append(cpu_per_request(client, batch))
    names = [name for name, _ in variants]
    print(f"CPU per request (ms), median of {args.rounds} rounds of {args.requests} requests per endpoint")
    print(f"{'endpoint':44} {'share':>6} " + " ".join(f"{name:>12}" for name in names))
    total_weight = sum(MIX.values())
    mixed = dict.fromkeys(names, 0.0)
    for endpoint in batches:
        share = MIX[endpoint] / total_weight
        row = []
        for name in names:
            value = statistics.median(results[(name, endpoint)])
            mixed[name] += value * share
            row.append(f"{value:12.2f}")
        print(f"{endpoint:44} {share:6.0%} " + " ".join(row))
    print(
        f"{'load test mix (weighted)':44} {'100%':>6} " + " ".join(f"{mixed[name]:12.2f}" for name in names)
    )
    if len(names) > 1:
        base = mixed[names[0]]
        print(f"{'vs current':44} {'':6} " + " ".join(f"{mixed[name] / base - 1:12.0%}" for name in names))


if __name__ == "__main__":
    main()
