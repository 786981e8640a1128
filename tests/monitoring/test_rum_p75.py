"""Browser metrics (RUM) per page route: INP recorded, p75 against budgets in the
performance admin, with each page's budget line on the charts."""

import json
import re
import time

import pytest

from apps.monitoring import charts
from apps.monitoring.models import MetricKind, MetricRollup
from apps.monitoring.selectors.browser import BROWSER_METRICS, browser_pages_p75
from apps.monitoring.selectors.metrics import WINDOWS
from apps.monitoring.views import beacon as beacon_view
from tests.browser.conftest import browser_page, chromium_launch_args, tempo_processes  # noqa: F401
from tests.monitoring.helpers import flush_and_roll_up

pytestmark = pytest.mark.django_db

ORDER_PAGE = "/orders/<int:order_id>/"


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    beacon_view._seen.clear()


def send(client, **figures) -> int:
    body = json.dumps({"path": figures.pop("path", "/orders/7/"), **figures})
    return client.post("/monitoring/beacon", data=body, content_type="text/plain").status_code


def test_inp_is_recorded_per_page_route_not_per_url(client):
    assert send(client, path="/orders/7/", inp=120) == 204
    assert send(client, path="/orders/8/", inp=90) == 204
    flush_and_roll_up()
    inp = MetricRollup.objects.get(kind=MetricKind.BROWSER_INP)
    assert inp.key == ORDER_PAGE and inp.count == 2


def test_an_inp_out_of_range_is_refused(client):
    response = client.post(
        "/monitoring/beacon", data=json.dumps({"path": "/orders/", "inp": -1}), content_type="text/plain"
    )
    assert response.status_code == 400 and "inp must be a number" in response.json()["message"]


def test_p75_is_the_third_quartile_of_the_visits(client):
    # Three fast visits and one slow one: p75 is a fast one (within a histogram bucket).
    for lcp in (1000, 1000, 1000, 4000):
        send(client, lcp=lcp)
    flush_and_roll_up()
    (page,) = browser_pages_p75(window=WINDOWS["1h"])
    lcp_cell = next(cell for cell in page.cells if cell.metric.field == "lcp")
    assert page.route == ORDER_PAGE and page.views == 4 and lcp_cell.count == 4
    assert 840 < lcp_cell.p75 < 1190
    assert lcp_cell.budget == 2500.0 and not lcp_cell.over_budget


def test_layout_shift_p75_is_shown_unitless_against_its_budget(client):
    for cls in (0.3, 0.3, 0.3, 0.01):
        send(client, cls=cls)
    flush_and_roll_up()
    (page,) = browser_pages_p75(window=WINDOWS["1h"])
    cls_cell = next(cell for cell in page.cells if cell.metric.field == "cls")
    assert 0.25 < cls_cell.p75 < 0.36 and cls_cell.budget == 0.1 and cls_cell.over_budget


def test_the_admin_page_flags_a_page_over_budget_and_draws_its_budget_lines(client, ops_client):
    for lcp in (1000, 4000, 4000, 4000):
        send(client, lcp=lcp, fcp=500, inp=80, ttfb=100, cls=0.02)
    flush_and_roll_up()
    page = ops_client.get("/monitoring/browser/").content.decode()
    for metric in BROWSER_METRICS:
        assert f"{metric.label} (p75)" in page
        assert f"{metric.label}: p75 per page against its budget" in page
    row = re.search(r"<tr><td>/orders/&lt;int:order_id&gt;/</td>(.*?)</tr>", page, re.S).group(1)
    # Only LCP (p75 about 4 s against 2.5 s) is over budget.
    assert row.count("rum-over-budget") == 1 and row.count("over budget</span>") == 1
    # One dashed budget line per page and metric; the LCP bar is red, the others green.
    assert page.count('stroke-dasharray="3,2"') == len(BROWSER_METRICS)
    assert page.count('fill="#dc2626"') == 1 and page.count('fill="#16a34a"') == len(BROWSER_METRICS) - 1


def test_a_page_budget_of_its_own_overrides_the_site_budget(client, settings):
    settings.MONITORING_BROWSER_PAGE_BUDGETS = {ORDER_PAGE: {"lcp": 5000}}
    for lcp in (4000, 4000, 4000, 4000):
        send(client, lcp=lcp)
        send(client, path="/jobs/", lcp=lcp)
    flush_and_roll_up()
    budgets = {
        page.route: next(cell for cell in page.cells if cell.metric.field == "lcp")
        for page in browser_pages_p75(window=WINDOWS["1h"])
    }
    assert budgets[ORDER_PAGE].budget == 5000 and not budgets[ORDER_PAGE].over_budget
    assert budgets["/jobs/"].budget == 2500.0 and budgets["/jobs/"].over_budget


def test_the_browser_metrics_page_is_staff_only(alice_client):
    response = alice_client.get("/monitoring/browser/")
    assert response.status_code in (302, 403, 404)
    assert b"p75 per page" not in response.content


def test_each_bar_is_drawn_against_its_own_budget_line():
    svg = charts.budget_bars([("/a/", 100.0, 200.0), ("/b/", 300.0, 150.0), ("/c/", None, 200.0)], unit="ms")
    assert svg.count('fill="#16a34a"') == 1 and svg.count('fill="#dc2626"') == 1
    assert svg.count("<title>budget 200ms</title>") == 2 and svg.count("<title>budget 150ms</title>") == 1
    lines = [float(x) for x in re.findall(r'<line x1="([\d.]+)"', svg)]
    # /b/'s budget (150) is drawn left of the others' (200).
    assert lines[1] < lines[0] == lines[2]


def poll(page, script: str, *, deadline: float = 10.0) -> None:
    """Evaluate ``script`` until it is true (the page's CSP refuses wait_for_function's eval)."""
    ends = time.monotonic() + deadline
    while not page.evaluate(script):
        assert time.monotonic() < ends, f"never true: {script}"
        page.wait_for_timeout(50)


def test_the_browser_script_measures_a_slow_interaction_and_a_layout_shift(
    tempo_processes,  # noqa: F811
    browser_page,  # noqa: F811
):
    """Debian's chromium on gunicorn (which serves the hashed static files): the beacon sent
    when the page is hidden carries the paint figures, a layout shift without input, and the
    INP of a click whose handler is busy for 150 ms (an interaction lasts at least as long
    as its handlers)."""
    # What the script hands to sendBeacon, kept by the page (Playwright does not report beacons).
    browser_page.add_init_script(
        """window.__beacons = [];
        const send = navigator.sendBeacon.bind(navigator);
        navigator.sendBeacon = (url, body) => {
          window.__beacons.push([url, body]);
          return send(url, body);
        };"""
    )
    browser_page.goto(tempo_processes["base_url"] + "/accounts/login/")
    poll(browser_page, "performance.getEntriesByName('first-contentful-paint').length > 0")
    browser_page.evaluate(
        """() => {
        const block = document.createElement("div");
        block.className = "rum-test-block";
        block.textContent = "pushed in above everything";
        block.setAttribute("role", "presentation");
        document.body.prepend(block);
        block.getBoundingClientRect();
        document.body.addEventListener("click", () => {
          const until = performance.now() + 150;
          while (performance.now() < until) {}
        });
      }"""
    )
    browser_page.wait_for_timeout(600)  # the shift must not count as input-driven
    browser_page.mouse.click(5, 300)
    poll(browser_page, "performance.getEntriesByType('first-input').length > 0")
    browser_page.wait_for_timeout(300)  # the event timing observers' callback runs after the paint
    # The tab goes to the background (headless chromium never hides a page by itself).
    browser_page.evaluate(
        """() => {
        Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
        document.dispatchEvent(new Event("visibilitychange"));
      }"""
    )
    poll(browser_page, "window.__beacons.length > 0")
    beacons = browser_page.evaluate(
        "Promise.all(window.__beacons.map(([url, body]) => body.text().then(text => [url, text])))"
    )
    assert len(beacons) == 1 and beacons[0][0] == "/monitoring/beacon"
    body = json.loads(beacons[0][1])
    assert body["path"] == "/accounts/login/"
    assert body["fcp"] > 0 and body["ttfb"] >= 0
    assert 150 <= body["inp"] < 2000
    assert body["cls"] > 0
