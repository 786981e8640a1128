"""The performance pages fit a 1366 by 768 screen: long statements, routes and code lines
wrap or scroll inside their cell, and the page itself never scrolls sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.monitoring.models import MetricKind, MetricRollup, SlowQuery
from tests.browser.test_job_progress import log_in

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1366, "height": 768}
LONG_ROUTE = "GET /api/commerce/customers/{customer_id}/orders/{order_id}/line-items/{line_number}/" + (
    "shipments/{shipment_id}/" * 4
)
LONG_SQL = (
    'SELECT "commerce_lineitem"."id", "commerce_lineitem"."order_id", "commerce_lineitem"."part_id", ' * 6
    + 'FROM "commerce_lineitem" WHERE "commerce_lineitem"."order_id" IN (%s, %s, %s, %s, %s, %s, %s, %s)'
)
LONG_CODE_LINE = "apps/commerce/services/loading/postgres.py:123 in validated_load_with_a_rather_long_name"
PAGES = ["/monitoring/database/", "/monitoring/endpoints/", "/monitoring/queries/"]


def recorded_long_texts() -> None:
    """What a busy site records: a long route, and statements too long for any screen."""
    now = timezone.now().replace(second=0, microsecond=0)
    for minutes in range(3):
        MetricRollup.objects.create(
            kind=MetricKind.REQUEST,
            key=LONG_ROUTE,
            resolution=60,
            start=now - timedelta(minutes=minutes),
            count=12_345,
            total_ms=98_765.4,
            max_ms=4_321.0,
            queries=45_678,
        )
    for index in range(3):
        SlowQuery.objects.create(
            fingerprint=f"{index:040d}",
            source_kind=SlowQuery.Source.REQUEST,
            source=LONG_ROUTE,
            normalized_sql=LONG_SQL.replace(" ", "") if index == 0 else LONG_SQL,
            sample_sql=LONG_SQL,
            code_line=LONG_CODE_LINE,
            calls=10,
            slow_calls=10,
            total_ms=12_345.0,
            max_ms=2_345.0,
            first_seen=now,
            last_seen=now,
        )


def test_performance_pages_never_scroll_sideways_at_1366_pixels(tempo_processes, browser_page, ops):
    base_url, page = tempo_processes["base_url"], browser_page
    recorded_long_texts()
    page.set_viewport_size(VIEWPORT)
    log_in(page, base_url, ops)

    widths = {}
    for path in PAGES:
        response = page.goto(f"{base_url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        widths[path] = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )

    too_wide = {path: sizes for path, sizes in widths.items() if sizes[0] > sizes[1]}
    assert not too_wide, f"wider than the window (scrollWidth, clientWidth): {too_wide}"
