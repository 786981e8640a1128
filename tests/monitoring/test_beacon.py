import json
import re

import pytest

from apps.monitoring.models import MetricKind, MetricRollup
from apps.monitoring.views import beacon as beacon_view
from tests.monitoring.helpers import flush_and_roll_up

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    beacon_view._seen.clear()


def send(client, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/monitoring/beacon", data=data, content_type="text/plain", **extra)


def test_a_beacon_is_aggregated_per_page_route(client, ops_client):
    # The beacon needs no CSRF token (sendBeacon cannot send one) and no login.
    job_page = "/jobs/0a5f3b52-4b43-4b8e-9a0c-3c1b0a7d9e11/"
    assert send(client, {"path": job_page, "fcp": 310.5, "cls": 0.12}).status_code == 204
    assert send(client, {"path": "/jobs/", "lcp": 1200}).status_code == 204
    flush_and_roll_up()
    fcp = MetricRollup.objects.get(kind=MetricKind.BROWSER_FCP)
    assert fcp.key == "/jobs/<uuid:job_id>/" and fcp.count == 1
    assert MetricRollup.objects.get(kind=MetricKind.BROWSER_CLS).total_ms == pytest.approx(120.0)
    page = ops_client.get("/monitoring/browser/").content.decode()
    assert "/jobs/&lt;uuid:job_id&gt;/" in page
    assert re.search(r">0\.1\d*<", page)  # CLS p75, within a bucket of 0.12


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ([1, 2], "JSON object"),
        ({"path": "/jobs/", "fcp": 1, "evil": 2}, "Unknown fields: evil"),
        ({"path": "jobs", "fcp": 1}, "path must be"),
        ({"path": "/jobs/", "fcp": -5}, "fcp must be a number"),
        ({"path": "/jobs/", "fcp": "fast"}, "fcp must be a number"),
        ({"path": "/jobs/"}, "No metric given"),
        ({"path": "/no/such/page/", "fcp": 1}, "not a page of this site"),
    ],
)
def test_bad_beacons_are_refused_with_a_reason(client, body, message):
    response = send(client, body)
    assert response.status_code == 400
    assert message in response.json()["message"]
    flush_and_roll_up()
    assert not MetricRollup.objects.filter(kind__startswith="browser").exists()


def test_cross_origin_beacons_are_refused(client):
    response = send(client, {"path": "/jobs/", "fcp": 1}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_same_origin_beacons_are_accepted(client):
    response = send(client, {"path": "/jobs/", "fcp": 1}, headers={"Origin": "http://testserver"})
    assert response.status_code == 204


def test_large_bodies_are_refused(client):
    response = send(client, json.dumps({"path": "/" + "a" * 3000, "fcp": 1}))
    assert response.status_code == 413


def test_beacons_are_rate_limited_per_client(client, settings):
    settings.MONITORING_BROWSER_RATE_LIMIT = 3
    statuses = [send(client, {"path": "/jobs/", "fcp": 1}).status_code for _ in range(5)]
    assert statuses == [204, 204, 204, 429, 429]


def test_only_post_is_accepted(client):
    assert client.get("/monitoring/beacon").status_code == 405


def test_pages_include_the_beacon_script(alice_client):
    page = alice_client.get("/jobs/").content.decode()
    assert "browser-metrics" in page and 'data-endpoint="/monitoring/beacon"' in page


def test_behind_a_proxy_beacons_are_limited_per_forwarded_client_not_per_proxy(client, settings):
    settings.MONITORING_BROWSER_RATE_LIMIT = 2
    settings.TRUSTED_PROXY_COUNT = 1

    def from_client(address: str) -> int:
        return send(client, {"path": "/jobs/", "fcp": 1}, headers={"X-Forwarded-For": address}).status_code

    assert [from_client("203.0.113.7") for _ in range(3)] == [204, 204, 429]
    # Another client behind the same proxy (the same REMOTE_ADDR) has its own count.
    assert from_client("203.0.113.8") == 204
