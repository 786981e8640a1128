"""Tempo's load test: browsing users (sessions) and API clients (tokens) on the TPC-H data.

Run by ``make loadtest`` (loadtest/run.sh) against the load-balanced setup of ``make lb``.
LOADTEST_FIXTURES names the JSON that loadtest/prepare.py wrote (sessions, tokens, ids).

Journeys, with weights close to what a commerce back office sees:
- browse the orders list (first page, then one or two pages further), open an order,
  look at its customer; open the orders page (HTML);
- read notifications (/api/notifications) and request a report (/api/reports), then
  poll its status — each skipped gracefully when that API is not there (404);
- API clients with tokens: filtered order lists, order details with If-None-Match
  (the ETag of their last copy), customer summaries.
Customer ids follow a skewed distribution (a few hot customers, a long tail), as real
traffic does; that is where the cache pays.

The users are FastHttpUsers (geventhttpclient): Locust runs on the same 2 CPUs as the
servers here, and python-requests spent several times more CPU per request than the
server it measured.
"""

# ruff: noqa: S311 (random picks test traffic, nothing secret)

import json
import os
import random
from http.cookiejar import Cookie
from urllib.parse import urlsplit

from locust import FastHttpUser, between, task

with open(os.environ.get("LOADTEST_FIXTURES", "loadtest/results/fixtures.json")) as file:
    FIXTURES = json.load(file)
ORDER_IDS = FIXTURES["order_ids"]
CUSTOMER_IDS = FIXTURES["customer_ids"]


def hot_customer() -> int:
    # Pareto-like: most requests for the first few hundred customers.
    index = min(int(random.paretovariate(1.2)) - 1, len(CUSTOMER_IDS) - 1)
    return CUSTOMER_IDS[index * 7 % len(CUSTOMER_IDS)]


def cookie(name: str, value: str, *, host: str) -> Cookie:
    """A cookie for the test host, as the browser of a logged-in user holds it."""
    return Cookie(
        version=0, name=name, value=value, port=None, port_specified=False,
        domain=urlsplit(host).hostname, domain_specified=False, domain_initial_dot=False,
        path="/", path_specified=True, secure=False, expires=None, discard=True,
        comment=None, comment_url=None, rest={},
    )  # fmt: skip


class BrowsingUser(FastHttpUser):
    """Somebody in the back office, logged in (a session prepared for the test)."""

    weight = 4
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.client.cookiejar.set_cookie(
            cookie("sessionid", random.choice(FIXTURES["sessions"]), host=self.host)
        )
        self.reports_available = True
        self.notifications_available = True

    @task(5)
    def browse_orders(self) -> None:
        response = self.client.get("/api/commerce/orders?limit=20", name="/api/commerce/orders")
        for _ in range(random.randint(0, 2)):
            cursor = response.json().get("next") if response.ok else None
            if not cursor:
                break
            response = self.client.get(
                f"/api/commerce/orders?limit=20&cursor={cursor}", name="/api/commerce/orders?cursor"
            )

    @task(4)
    def open_order(self) -> None:
        order_id = random.choice(ORDER_IDS)
        response = self.client.get(f"/api/commerce/orders/{order_id}", name="/api/commerce/orders/[id]")
        if response.ok:
            customer = response.json()["customer_id"]
            self.client.get(f"/api/commerce/customers/{customer}", name="/api/commerce/customers/[id]")

    @task(4)
    def customer_summary(self) -> None:
        self.client.get(f"/api/commerce/customers/{hot_customer()}", name="/api/commerce/customers/[id]")

    @task(2)
    def orders_page(self) -> None:
        self.client.get("/orders/", name="/orders/")

    @task(2)
    def read_notifications(self) -> None:
        if not self.notifications_available:
            return
        with self.client.get(
            "/api/notifications", name="/api/notifications", catch_response=True
        ) as response:
            if response.status_code == 404:
                self.notifications_available = False
                response.success()

    @task(1)
    def request_report(self) -> None:
        if not self.reports_available:
            return
        with self.client.get(
            "/api/reports/catalog", name="/api/reports/catalog", catch_response=True
        ) as response:
            if response.status_code == 404:
                self.reports_available = False
                response.success()
                return
            if not response.ok:
                return
            names = [report["name"] for report in response.json()]
        if not names:
            self.reports_available = False
            return
        csrf = self.csrf_token()
        if not csrf:
            # A page visit gives the CSRF cookie that session-authenticated POSTs need.
            self.client.get("/orders/", name="/orders/")
            csrf = self.csrf_token()
        with self.client.post(
            "/api/reports",
            json={"report": random.choice(names), "params": {}, "format": "csv"},
            headers={"X-CSRFToken": csrf, "Referer": self.host + "/"},
            name="/api/reports",
            catch_response=True,
        ) as response:
            if response.status_code == 422:
                # A report that needs parameters we do not guess: not a server failure.
                response.success()
                return
            if response.status_code != 202:
                return
            url = response.json()["url"]
        for _ in range(3):
            # Polling the run's status, as the reports page does while the job runs.
            self.client.get(urlsplit(url).path, name="/api/reports/[id]")

    def csrf_token(self) -> str:
        return next((c.value for c in self.client.cookiejar if c.name == "csrftoken"), "")


class ApiClient(FastHttpUser):
    """Another system reading through the API with a token, keeping ETags of its copies."""

    weight = 1
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {random.choice(FIXTURES['tokens'])}"}
        self.etags: dict[int, str] = {}

    @task(3)
    def filtered_orders(self) -> None:
        status = random.choice("OFP")
        self.client.get(
            f"/api/commerce/orders?status={status}&limit=50",
            headers=self.auth,
            name="/api/commerce/orders?status",
        )

    @task(3)
    def order_with_etag(self) -> None:
        order_id = random.choice(ORDER_IDS[:200])
        headers = (
            {"If-None-Match": self.etags[order_id], **self.auth} if order_id in self.etags else self.auth
        )
        with self.client.get(
            f"/api/commerce/orders/{order_id}",
            headers=headers,
            name="/api/commerce/orders/[id] (etag)",
            catch_response=True,
        ) as response:
            if response.status_code in (200, 304):
                response.success()
                if "ETag" in response.headers:
                    self.etags[order_id] = response.headers["ETag"]

    @task(2)
    def customer_summary(self) -> None:
        self.client.get(
            f"/api/commerce/customers/{hot_customer()}",
            headers=self.auth,
            name="/api/commerce/customers/[id]",
        )
