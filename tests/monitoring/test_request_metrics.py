import math
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.monitoring import histogram
from apps.monitoring.models import MetricKind, MetricRollup
from apps.monitoring.recorder import recorder
from apps.monitoring.selectors.metrics import WINDOWS, summaries
from tests.monitoring.helpers import flush_and_roll_up

pytestmark = pytest.mark.django_db


def true_p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def test_endpoints_page_shows_each_route_once_with_p95_within_one_bucket(alice_client, ops, client, observed):
    raw_ids = [uuid.uuid4() for _ in range(8)]
    for job_id in raw_ids:
        alice_client.get(f"/jobs/{job_id}/")  # eight raw paths, one route
    for _ in range(5):
        alice_client.get("/jobs/")
    for _ in range(6):
        alice_client.get("/healthz")
    flush_and_roll_up()

    client.force_login(ops)
    page = client.get("/monitoring/endpoints/?window=1h").content.decode()

    truth: dict[str, list[float]] = {}
    for kind, key, ms in observed:
        if kind == MetricKind.REQUEST:
            truth.setdefault(key, []).append(ms)
    for key in ("GET /jobs/<uuid:job_id>/", "GET /jobs/", "GET /healthz"):
        shown = re.findall(rf">{re.escape(key.replace('<', '&lt;').replace('>', '&gt;'))}</a>", page)
        assert len(shown) == 1, f"{key} shown {len(shown)} times"
        row = page[page.index(shown[0]) :]
        p95 = float(re.search(r'data-p95="([\d.]+)"', row).group(1))
        assert abs(histogram.bucket_index(p95) - histogram.bucket_index(true_p95(truth[key]))) <= 1
    assert not any(str(job_id) in page for job_id in raw_ids)


def test_raw_paths_never_become_series(alice_client):
    for _ in range(3):
        alice_client.get(f"/jobs/{uuid.uuid4()}/")
    flush_and_roll_up()
    keys = set(MetricRollup.objects.values_list("key", flat=True))
    assert keys == {"GET /jobs/<uuid:job_id>/"}
    row = MetricRollup.objects.get()
    assert row.count == 3 and row.client_errors == 3 and row.resolution == 60


def test_middleware_adds_no_queries_to_a_request(alice_client, settings):
    alice_client.get("/jobs/")  # warm the session
    with CaptureQueriesContext(connection) as with_metrics:
        alice_client.get("/jobs/")
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "monitoring" not in m]
    with CaptureQueriesContext(connection) as without_metrics:
        alice_client.get("/jobs/")
    assert len(with_metrics) == len(without_metrics)


def test_the_request_path_writes_nothing_until_the_flush(alice_client):
    alice_client.get("/jobs/")
    assert MetricRollup.objects.count() == 0
    flush_and_roll_up()
    assert MetricRollup.objects.filter(key="GET /jobs/").exists()


def test_queries_per_request_are_counted(alice_client):
    alice_client.get("/jobs/")
    with CaptureQueriesContext(connection) as queries:
        alice_client.get("/jobs/")
    flush_and_roll_up()
    row = MetricRollup.objects.get(key="GET /jobs/")
    assert row.count == 2
    assert row.queries >= len(queries)


def test_flushes_of_the_same_minute_add_up(alice_client):
    at = 1_800_000_000.0
    recorder.observe(MetricKind.REQUEST, "GET /x/", 10.0, at=at)
    flush_and_roll_up()
    recorder.observe(MetricKind.REQUEST, "GET /x/", 30.0, at=at + 1, error=True)
    flush_and_roll_up()
    row = MetricRollup.objects.get(key="GET /x/")
    assert (row.count, row.errors, row.total_ms, row.max_ms) == (2, 1, 40.0, 30.0)
    assert sum(row.buckets.values()) == 2


@pytest.mark.urls("tests.monitoring.urls")
def test_queries_carry_a_comment_naming_the_route(alice_client):
    sql = alice_client.get("/test/sql-seen/").json()["sql"]
    # With parameters the driver formats the text, so the comment's % signs come doubled.
    assert sql and "route='GET%20%2Ftest%2Fsql-seen%2F'" in sql[0].replace("%%", "%")
    assert sql[0].rstrip().endswith("*/")


def test_error_responses_count_as_errors_by_status_class(alice_client):
    alice_client.get("/monitoring/")  # non-staff: redirect (3xx)
    alice_client.get("/no/such/page/")
    flush_and_roll_up()
    unmatched = MetricRollup.objects.get(key="GET (unmatched)")
    assert unmatched.client_errors == 1
    window = summaries(kinds=[MetricKind.REQUEST], window=WINDOWS["15m"])
    assert {s.key for s in window} == {"GET (unmatched)", "GET /monitoring/"}
