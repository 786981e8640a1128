"""The performance pages paint their summary at once and load the charts and tables below
the fold as they scroll into view (a placeholder fetches the panel and keeps #perf-below)."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LAZY_PAGES = {
    "/monitoring/": ("Requests / min", "<h2>Throughput</h2>"),
    "/monitoring/queues/": ("Recommended workers", "<h2>Dead letters</h2>"),
    "/monitoring/endpoint/?key=GET%20/jobs/": ("Queries / request", "<h2>Latency (p95)</h2>"),
}
PLACEHOLDER = re.compile(
    r'<div class="perf-lazy" hx-get="([^"]+)" hx-trigger="intersect once" hx-select="#perf-below" '
    r'hx-swap="outerHTML">'
)


@pytest.mark.parametrize("url", LAZY_PAGES)
def test_a_visit_shows_the_summary_and_a_placeholder_for_what_is_below_the_fold(ops_client, url):
    summary, below = LAZY_PAGES[url]
    body = ops_client.get(url).content.decode()
    assert summary in body
    assert below not in body and 'id="perf-below"' not in body and '<svg class="chart"' not in body
    # The placeholder asks for this very page, whose htmx answer holds the part it keeps.
    assert [html.unescape(found) for found in PLACEHOLDER.findall(body)] == [url]
    assert "panels=all" in body  # the link for a browser without JS


@pytest.mark.parametrize("url", LAZY_PAGES)
def test_the_placeholders_fetch_gets_the_charts_and_tables(ops_client, url):
    _, below = LAZY_PAGES[url]
    body = ops_client.get(url, **HTMX).content.decode()
    assert 'id="perf-below"' in body and below in body
    assert not PLACEHOLDER.search(body)
    assert "<html" not in body


def test_without_javascript_the_link_shows_everything_in_the_page(ops_client):
    body = ops_client.get("/monitoring/?panels=all").content.decode()
    assert "<html" in body and "<h2>Throughput</h2>" in body and '<svg class="chart"' in body
    assert not PLACEHOLDER.search(body)


@pytest.mark.parametrize("url", LAZY_PAGES)
def test_non_staff_cannot_fetch_a_lazy_panel(alice_client, url):
    response = alice_client.get(url, **HTMX)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_first_paint_of_the_queues_page_leaves_the_below_the_fold_queries_for_later(ops_client):
    ops_client.get("/monitoring/queues/", **HTMX)  # warm what is cached per process
    with CaptureQueriesContext(connection) as visit:
        ops_client.get("/monitoring/queues/")
    with CaptureQueriesContext(connection) as panel:
        ops_client.get("/monitoring/queues/", **HTMX)
    # Running jobs and dead letters are read only by the lazy fetch.
    assert len(visit) < len(panel)
