"""Tempo's load test: browsing users (sessions) and API clients (tokens) on the TPC-H data.

Run by ``make loadtest`` (loadtest/run.sh) against the load-balanced setup of ``make lb``.
LOADTEST_FIXTURES names the JSON that loadtest/prepare.py wrote (sessions, tokens, ids).

Journeys, with weights close to what a commerce back office sees:
- browse the orders list (first page, then one or two pages further), open an order,
  look at its customer; open the orders page (HTML);
- read notifications (/api/notifications) and request a report (/api/reports), then
  poll its status while it is queued (202; a run written within the request, as the
  "before" mode's REPORTS_INLINE does, comes back ready with 201 and needs no poll) —
  each skipped gracefully when that API is not there (404);
- API clients with tokens: filtered order lists, order details with If-None-Match
  (the ETag of their last copy), customer summaries.
Customer ids follow a skewed distribution (a few hot customers, a long tail), as real
traffic does; that is where the cache pays.

With LOADTEST_STEPS="100,200,400" the run is a capacity search instead: each user
count for LOADTEST_STEP_SECONDS (30), p95 and failures measured per step after its
first LOADTEST_STEP_SETTLE seconds (5), stopping after the first step whose p95 is
over LOADTEST_P95_LIMIT_MS (500); the steps go to LOADTEST_STEPS_OUT as JSON.

The users are FastHttpUsers (geventhttpclient): Locust runs on the same 2 CPUs as the
servers here, and python-requests spent several times more CPU per request than the
server it measured.
"""

# ruff: noqa: S311 (random picks test traffic, nothing secret)

import json
import os
import random
import time
from http.cookiejar import Cookie
from urllib.parse import urlsplit

from locust import FastHttpUser, LoadTestShape, between, events, task

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
                # 201: written within the request (REPORTS_INLINE), nothing to wait for.
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


# --- Capacity search (LOADTEST_STEPS) ------------------------------------------------------

STEPS = [int(users) for users in os.environ.get("LOADTEST_STEPS", "").split(",") if users.strip()]


class Steps:
    """Response times per step, measured after each step has settled."""

    def __init__(self) -> None:
        self.seconds = float(os.environ.get("LOADTEST_STEP_SECONDS", "30"))
        self.settle = float(os.environ.get("LOADTEST_STEP_SETTLE", "5"))
        self.p95_limit = float(os.environ.get("LOADTEST_P95_LIMIT_MS", "500"))
        self.times: list[list[float]] = [[] for _ in STEPS]
        self.failures = [0] * len(STEPS)
        self.started: float | None = None

    def index(self, now: float) -> tuple[int, float]:
        """The step running at ``now`` and how long it has run."""
        elapsed = now - (self.started or now)
        return int(elapsed // self.seconds), elapsed % self.seconds

    def record(self, now: float, response_time: float, failed: bool) -> None:
        step, into = self.index(now)
        if step < len(STEPS) and into >= self.settle:
            self.times[step].append(response_time)
            self.failures[step] += failed

    def summary(self, step: int) -> dict:
        times = sorted(self.times[step])
        return {
            "users": STEPS[step],
            "requests": len(times),
            "failures": self.failures[step],
            "rps": len(times) / (self.seconds - self.settle),
            "average_ms": sum(times) / len(times) if times else None,
            "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))] if times else None,
        }

    def over_limit(self, step: int) -> bool:
        result = self.summary(step)
        return result["failures"] > 0 or (result["p95_ms"] or 0) >= self.p95_limit


steps = Steps()

if STEPS:

    class StepLoad(LoadTestShape):
        def tick(self):
            now = time.monotonic()
            if steps.started is None:
                steps.started = now
            step, _ = steps.index(now)
            if step >= len(STEPS) or (step > 0 and steps.over_limit(step - 1)):
                return None
            # Start a step's users within a second or two.
            return STEPS[step], max(50, STEPS[step])

    @events.request.add_listener
    def step_request(response_time, exception, **kwargs) -> None:
        steps.record(time.monotonic(), response_time, exception is not None)

    @events.quitting.add_listener
    def step_report(**kwargs) -> None:
        done = [steps.summary(step) for step in range(len(STEPS)) if steps.times[step]]
        with open(os.environ.get("LOADTEST_STEPS_OUT", "loadtest/results/steps.json"), "w") as file:
            json.dump({"p95_limit_ms": steps.p95_limit, "step_seconds": steps.seconds, "steps": done}, file)
