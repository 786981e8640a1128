"""Bad input, case by case: a clear 4xx (JSON with a ``message`` under /api/), never a 500.

NUL bytes, huge and negative numbers, far dates, malformed cursors, invalid ids, over-long
strings, wrong content types, empty bodies and JSON that is not an object, against the
list, detail and create endpoints of every app and the main pages with their filters.
Pages may also answer a bad filter with the form and its error (200 with an errorlist).
"""

import base64
import dataclasses
import json

import pytest
from django.test import Client

from tests.hardening.conftest import World

pytestmark = pytest.mark.django_db

FORM_ERROR = "form error"
# A damaged pager link on a page: the page shows its first page instead (200).
IGNORED = "ignored"
MAX_BIGINT = 2**63 - 1
HUGE = str(2**63)


def cursor(value) -> str:
    """A cursor as the API writes them: url-safe base64 of JSON, without padding."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclasses.dataclass(frozen=True)
class Bad:
    persona: str
    method: str
    path: str  # may name {job}, {run}, {endpoint}, {delivery}, {notification}, {order}
    body: object = None  # JSON-encoded unless ``raw`` is set
    raw: bytes | None = None
    content_type: str = "application/json"
    # An exact status, FORM_ERROR (a page with the form's error), IGNORED, or None: any 4xx.
    expect: int | str | None = None


def case(case_id: str, bad: Bad):
    return pytest.param(bad, id=case_id)


NUL = "\u0000"

CASES = [
    # --- NUL bytes: the query-string/form guard answers 400; the JSON parser 422. ----------
    case("nul-jobs-kind", Bad("alice", "GET", "/api/jobs?kind=a%00b", expect=400)),
    case("nul-reports-report", Bad("alice", "GET", "/api/reports?report=a%00b", expect=400)),
    case("nul-orders-cursor", Bad("alice", "GET", "/api/commerce/orders?cursor=%00", expect=400)),
    case("nul-monitoring-key", Bad("ops", "GET", "/api/monitoring/endpoints/detail?key=a%00b", expect=400)),
    case(
        "nul-job-idempotency-key",
        Bad(
            "alice",
            "POST",
            "/api/jobs",
            {"kind": "diagnostics.noop", "idempotency_key": f"a{NUL}b"},
            expect=422,
        ),
    ),
    case("nul-job-kind", Bad("alice", "POST", "/api/jobs", {"kind": f"a{NUL}b"}, expect=422)),
    case("nul-report-name", Bad("alice", "POST", "/api/reports", {"report": f"a{NUL}b"}, expect=422)),
    case(
        "nul-endpoint-description",
        Bad(
            "alice",
            "PATCH",
            "/api/notifications/endpoints/{endpoint}",
            {"description": f"a{NUL}b"},
            expect=422,
        ),
    ),
    case(
        "nul-endpoint-url",
        Bad(
            "alice", "POST", "/api/notifications/endpoints", {"url": f"https://a{NUL}b.example/"}, expect=422
        ),
    ),
    case(
        "nul-preferences-event",
        Bad(
            "alice",
            "PUT",
            "/api/notifications/preferences",
            [{"event": f"a{NUL}b", "channel": "email", "enabled": True}],
            expect=422,
        ),
    ),
    case("nul-page-jobs-kind", Bad("alice", "GET", "/jobs/?kind=a%00b", expect=400)),
    case("nul-page-orders-customer", Bad("alice", "GET", "/orders/?customer=%00", expect=400)),
    case("nul-page-orders-after", Bad("alice", "GET", "/orders/?after=%00", expect=400)),
    case("nul-page-notifications-before", Bad("alice", "GET", "/notifications/?before=%00", expect=400)),
    case("nul-page-monitoring-key", Bad("ops", "GET", "/monitoring/endpoint/?key=a%00b", expect=400)),
    case("nul-admin-filter", Bad("ops", "GET", "/admin/jobs/job/?status__exact=%00", expect=400)),
    case("nul-silk-filter", Bad("ops", "GET", "/silk/requests/?path=%00", expect=400)),
    # --- Huge and negative numbers ------------------------------------------------------------
    case("huge-order-id", Bad("alice", "GET", f"/api/commerce/orders/{HUGE}", expect=404)),
    case("huge-customer-id", Bad("alice", "GET", f"/api/commerce/customers/{HUGE}", expect=404)),
    case("negative-order-id", Bad("alice", "GET", "/api/commerce/orders/-1", expect=404)),
    case("huge-customer-filter", Bad("alice", "GET", f"/api/commerce/orders?customer={HUGE}", expect=422)),
    case("float-limit", Bad("alice", "GET", "/api/commerce/orders?limit=1e308", expect=422)),
    case("negative-limit-orders", Bad("alice", "GET", "/api/commerce/orders?limit=-1", expect=422)),
    case("negative-limit-jobs", Bad("alice", "GET", "/api/jobs?limit=-1", expect=422)),
    case("negative-limit-reports", Bad("alice", "GET", "/api/reports?limit=-1", expect=422)),
    case("negative-limit-notifications", Bad("alice", "GET", "/api/notifications?limit=-1", expect=422)),
    case(
        "negative-limit-deliveries", Bad("alice", "GET", "/api/notifications/deliveries?limit=-1", expect=422)
    ),
    case(
        "negative-limit-endpoint-deliveries",
        Bad("alice", "GET", "/api/notifications/endpoints/{endpoint}/deliveries?limit=-1", expect=422),
    ),
    case("negative-before-notifications", Bad("alice", "GET", "/api/notifications?before=-1", expect=422)),
    case(
        "huge-limit-monitoring", Bad("ops", "GET", f"/api/monitoring/slow-queries?limit={HUGE}", expect=422)
    ),
    case("huge-slow-query-id", Bad("ops", "GET", f"/api/monitoring/slow-queries/{HUGE}", expect=422)),
    case("huge-notification-read", Bad("alice", "POST", f"/api/notifications/{HUGE}/read", expect=404)),
    case(
        "huge-sleep-seconds",
        Bad(
            "alice",
            "POST",
            "/api/jobs",
            {"kind": "diagnostics.sleep", "params": {"seconds": 1e308}},
            expect=422,
        ),
    ),
    case(
        "huge-report-param",
        Bad(
            "alice",
            "POST",
            "/api/reports",
            {"report": "pricing_summary", "params": {"delta": 2**63}},
            expect=422,
        ),
    ),
    case("huge-page-order", Bad("alice", "GET", f"/orders/{HUGE}/", expect=404)),
    case("huge-page-notification", Bad("alice", "GET", f"/notifications/{HUGE}/", expect=404)),
    case("huge-page-slow-query", Bad("ops", "GET", f"/monitoring/queries/{HUGE}/", expect=404)),
    case("huge-page-orders-customer", Bad("alice", "GET", f"/orders/?customer={HUGE}", expect=FORM_ERROR)),
    case("negative-page-orders-customer", Bad("alice", "GET", "/orders/?customer=-1", expect=FORM_ERROR)),
    # --- Far dates ------------------------------------------------------------------------------
    case(
        "far-run-at",
        Bad(
            "alice",
            "POST",
            "/api/jobs",
            {"kind": "diagnostics.noop", "run_at": "9999-12-31T23:59:59-14:00"},
            expect=422,
        ),
    ),
    case(
        "year-10000-run-at",
        Bad(
            "alice",
            "POST",
            "/api/jobs",
            {"kind": "diagnostics.noop", "run_at": "10000-01-01T00:00:00Z"},
            expect=422,
        ),
    ),
    case(
        "far-report-date",
        Bad(
            "alice",
            "POST",
            "/api/reports",
            {"report": "shipping_priority", "params": {"date": "9999-12-31"}},
            expect=422,
        ),
    ),
    case(
        "early-report-date",
        Bad(
            "alice",
            "POST",
            "/api/reports",
            {"report": "shipping_priority", "params": {"date": "0001-01-01"}},
            expect=422,
        ),
    ),
    case(
        "far-orders-date-filter",
        Bad("alice", "GET", "/api/commerce/orders?date_from=10000-01-01", expect=422),
    ),
    case("page-orders-far-date", Bad("alice", "GET", "/orders/?date_from=10000-01-01", expect=FORM_ERROR)),
    case(
        "page-orders-dates-reversed",
        Bad("alice", "GET", "/orders/?date_from=1999-01-01&date_to=1990-01-01", expect=FORM_ERROR),
    ),
    # --- Malformed cursors ----------------------------------------------------------------------
    case(
        "orders-cursor-not-base64",
        Bad("alice", "GET", "/api/commerce/orders?cursor=!!!not-base64!!!", expect=422),
    ),
    case(
        "orders-cursor-not-json",
        Bad("alice", "GET", "/api/commerce/orders?cursor=" + cursor(b"\xff\xfe"), expect=422),
    ),
    case(
        "orders-cursor-not-a-list",
        Bad("alice", "GET", "/api/commerce/orders?cursor=" + cursor({"a": 1}), expect=422),
    ),
    case(
        "orders-cursor-wrong-types",
        Bad("alice", "GET", "/api/commerce/orders?cursor=" + cursor([1, "x"]), expect=422),
    ),
    case(
        "orders-cursor-float-id",
        Bad("alice", "GET", "/api/commerce/orders?cursor=" + cursor(["1995-01-01", 1.5]), expect=422),
    ),
    case(
        "orders-cursor-huge-id",
        Bad("alice", "GET", "/api/commerce/orders?cursor=" + cursor(["1995-01-01", 2**63]), expect=422),
    ),
    case(
        "orders-cursor-far-date",
        Bad("alice", "GET", "/api/commerce/orders?cursor=" + cursor(["10000-01-01", 1]), expect=422),
    ),
    case("jobs-cursor-not-a-list", Bad("alice", "GET", "/api/jobs?cursor=" + cursor("x"), expect=422)),
    case(
        "jobs-cursor-wrong-types",
        Bad("alice", "GET", "/api/jobs?cursor=" + cursor([["x"], {"y": 1}]), expect=422),
    ),
    case(
        "jobs-cursor-far-date",
        Bad("alice", "GET", "/api/jobs?cursor=" + cursor(["9999-12-31T23:59:59-14:00", 1]), expect=422),
    ),
    case(
        "jobs-cursor-huge-id",
        Bad("alice", "GET", "/api/jobs?cursor=" + cursor(["2020-01-01T00:00:00+00:00", 2**63]), expect=422),
    ),
    case(
        "jobs-cursor-year-one-east-of-utc",
        Bad("alice", "GET", "/api/jobs?cursor=" + cursor(["0001-01-01T00:00:00+14:00", 1]), expect=422),
    ),
    case("reports-cursor-not-base64", Bad("alice", "GET", "/api/reports?cursor=%%%", expect=422)),
    case(
        "reports-cursor-far-date",
        Bad("alice", "GET", "/api/reports?cursor=" + cursor(["9999-12-31T23:59:59-14:00", 1]), expect=422),
    ),
    case(
        "page-orders-cursor-huge-id",
        Bad("alice", "GET", "/orders/?after=" + cursor(["1995-01-01", 2**63]), expect=IGNORED),
    ),
    case(
        "page-jobs-cursor-far-date",
        Bad("alice", "GET", "/jobs/?after=" + cursor(["9999-12-31T23:59:59-14:00", 1]), expect=IGNORED),
    ),
    case(
        "page-runs-cursor-garbage",
        Bad("alice", "GET", "/reports/runs/?after=" + cursor({"x": [1]}), expect=IGNORED),
    ),
    case("page-notifications-before-text", Bad("alice", "GET", "/notifications/?before=abc", expect=IGNORED)),
    case(
        "page-notifications-before-huge",
        Bad("alice", "GET", f"/notifications/?before={HUGE}", expect=IGNORED),
    ),
    # --- Invalid ids in paths -------------------------------------------------------------------
    case("job-id-not-uuid", Bad("alice", "GET", "/api/jobs/not-a-uuid", expect=404)),
    case("run-id-not-uuid", Bad("alice", "GET", "/api/reports/not-a-uuid", expect=404)),
    case("run-download-not-uuid", Bad("alice", "GET", "/api/reports/not-a-uuid/download", expect=404)),
    case("endpoint-id-not-uuid", Bad("alice", "GET", "/api/notifications/endpoints/not-a-uuid", expect=404)),
    case("delivery-id-not-uuid", Bad("alice", "GET", "/api/notifications/deliveries/not-a-uuid", expect=404)),
    case("order-id-not-int", Bad("alice", "GET", "/api/commerce/orders/abc", expect=422)),
    case("job-cancel-not-uuid", Bad("alice", "POST", "/api/jobs/%20/cancel", expect=404)),
    case("page-job-not-uuid", Bad("alice", "GET", "/jobs/not-a-uuid/", expect=404)),
    case(
        "silk-unknown-request",
        Bad("ops", "GET", "/silk/request/00000000-0000-0000-0000-000000000000/", expect=404),
    ),
    case("poll-ids-not-uuids", Bad("alice", "GET", "/api/jobs?ids=a,b,c", expect=422)),
    # --- Over-long strings ----------------------------------------------------------------------
    case("long-job-kind-filter", Bad("alice", "GET", "/api/jobs?kind=" + "k" * 101, expect=422)),
    case("long-job-kind", Bad("alice", "POST", "/api/jobs", {"kind": "k" * 10_000}, expect=422)),
    case(
        "long-idempotency-key",
        Bad(
            "alice",
            "POST",
            "/api/jobs",
            {"kind": "diagnostics.noop", "idempotency_key": "i" * 201},
            expect=422,
        ),
    ),
    case("long-report-name", Bad("alice", "POST", "/api/reports", {"report": "r" * 101}, expect=422)),
    case(
        "long-endpoint-description",
        Bad(
            "alice",
            "PATCH",
            "/api/notifications/endpoints/{endpoint}",
            {"description": "d" * 201},
            expect=422,
        ),
    ),
    case(
        "long-monitoring-key",
        Bad("ops", "GET", "/api/monitoring/endpoints/detail?key=" + "k" * 301, expect=422),
    ),
    case(
        "long-orders-cursor", Bad("alice", "GET", "/api/commerce/orders?cursor=" + "A" * 10_000, expect=422)
    ),
    case("long-page-jobs-kind", Bad("alice", "GET", "/jobs/?kind=" + "k" * 10_000, expect=FORM_ERROR)),
    # --- Wrong content types, empty bodies, JSON that is not an object ------------------------
    case(
        "form-body-to-json-api",
        Bad(
            "alice",
            "POST",
            "/api/jobs",
            raw=b"kind=diagnostics.noop",
            content_type="application/x-www-form-urlencoded",
        ),
    ),
    case(
        "xml-body-to-json-api",
        Bad("alice", "POST", "/api/reports", raw=b"<run/>", content_type="application/xml"),
    ),
    case("empty-job-body", Bad("alice", "POST", "/api/jobs", raw=b"")),
    case("empty-report-body", Bad("alice", "POST", "/api/reports", raw=b"")),
    case("empty-preferences-body", Bad("alice", "PUT", "/api/notifications/preferences", raw=b"")),
    case("broken-json", Bad("alice", "POST", "/api/jobs", raw=b'{"kind": ')),
    case("json-list-not-object", Bad("alice", "POST", "/api/jobs", [], expect=422)),
    case("json-null-not-object", Bad("alice", "POST", "/api/reports", raw=b"null", expect=422)),
    case(
        "json-string-not-object",
        Bad("alice", "POST", "/api/notifications/endpoints", "https://example.com/", expect=422),
    ),
    case(
        "json-object-not-list",
        Bad("alice", "PUT", "/api/notifications/preferences", {"event": "x"}, expect=422),
    ),
    case(
        "params-not-object",
        Bad("alice", "POST", "/api/jobs", {"kind": "diagnostics.noop", "params": [1, 2]}, expect=422),
    ),
    case("import-without-multipart", Bad("ops", "POST", "/api/commerce/imports", {"table": "orders"})),
]


def fill(path: str, world: World) -> str:
    return path.format(
        job=world.job.uuid,
        run=world.run.uuid,
        endpoint=world.endpoint.uuid,
        delivery=world.delivery.uuid,
        notification=world.notification.pk,
        order=world.order.pk,
    )


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_gets_a_clear_4xx(bad: Bad, world, published):
    client = Client(raise_request_exception=False)
    persona = world.persona(bad.persona)
    path = fill(bad.path, world)
    api = path.startswith("/api/")
    if api:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {persona.token}"
    else:
        client.force_login(persona.user)
    data = bad.raw if bad.raw is not None else (json.dumps(bad.body) if bad.body is not None else None)
    extra = {} if data is None else {"data": data, "content_type": bad.content_type}

    response = client.generic(bad.method, path, **extra)

    described = f"{bad.method} {path[:120]} -> {response.status_code}: {response.content[:300]!r}"
    if bad.expect in (FORM_ERROR, IGNORED):
        assert response.status_code == 200, described
        if bad.expect == FORM_ERROR:
            assert b'class="error"' in response.content, described
        return
    assert 400 <= response.status_code < 500, described
    if bad.expect is not None:
        assert response.status_code == bad.expect, described
    if api:
        assert response["Content-Type"].startswith("application/json"), described
        message = response.json().get("message")
        assert isinstance(message, str) and message.strip(), described
    else:
        assert response.content.strip(), described
