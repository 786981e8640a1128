"""Nobody but staff reaches a performance page, Silk, the monitoring API or /metrics."""

import pytest
from django.test import Client

from apps.core.caching import namespace_bump
from apps.monitoring.selectors import database

pytestmark = pytest.mark.django_db

PAGES = [
    "/monitoring/",
    "/monitoring/endpoints/",
    "/monitoring/endpoint/?key=GET%20/jobs/",
    "/monitoring/queries/",
    "/monitoring/database/",
    "/monitoring/queues/",
    "/monitoring/browser/",
    "/monitoring/alerts/",
]
API = [
    "/api/monitoring/overview",
    "/api/monitoring/endpoints",
    "/api/monitoring/slow-queries",
    "/api/monitoring/database",
    "/api/monitoring/queues",
    "/api/monitoring/browser",
    "/api/monitoring/alerts",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_the_admin_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", PAGES)
def test_non_staff_cannot_see_a_performance_page(alice_client, url):
    response = alice_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", PAGES)
def test_staff_sees_every_performance_page_in_few_queries(ops_client, url, django_assert_max_num_queries):
    ops_client.get(url)
    # A fixed number per page, however many rows (the database and queues pages have a panel each).
    with django_assert_max_num_queries(16 if "queues" in url or "database" in url else 12):
        response = ops_client.get(url)
    assert response.status_code == 200
    assert b"perf-panel" in response.content


@pytest.mark.parametrize("url", PAGES)
def test_an_htmx_poll_gets_the_panel_alone(ops_client, url):
    response = ops_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content


def test_admin_index_has_the_performance_section(ops_client):
    assert b'id="performance-section"' in ops_client.get("/admin/").content


def test_anonymous_cannot_open_silk(client):
    response = client.get("/silk/")
    assert response.status_code == 302


def test_non_staff_cannot_open_silk(alice_client):
    assert alice_client.get("/silk/").status_code == 403


def test_staff_opens_silk(ops_client):
    assert ops_client.get("/silk/").status_code == 200


@pytest.mark.parametrize("url", API)
def test_api_needs_credentials(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert "message" in response.json()


@pytest.mark.parametrize("url", API)
def test_api_refuses_non_staff(alice_client, url):
    response = alice_client.get(url)
    assert response.status_code == 403
    assert response.json()["message"].startswith("Staff only")


@pytest.mark.parametrize("url", API)
def test_api_answers_staff_in_few_queries(ops_client, url, django_assert_max_num_queries):
    ops_client.get(url)
    with django_assert_max_num_queries(12):
        response = ops_client.get(url)
    assert response.status_code == 200


def test_api_rejects_an_unknown_window(ops_client):
    response = ops_client.get("/api/monitoring/endpoints?window=3y")
    assert response.status_code == 422
    assert "window: Input should be '15m', '1h', '24h' or '7d'" in response.json()["message"]


def test_metrics_are_closed_without_a_token_or_allowlist(client, ops_client):
    assert client.get("/metrics").status_code == 403
    # Not even staff: /metrics is for a scraper, not a session.
    assert ops_client.get("/metrics").status_code == 403


def test_metrics_need_the_right_bearer_token(client, settings):
    settings.MONITORING_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert b"tempo_jobs_queued" in response.content


def test_metrics_open_to_an_allowed_address(client, settings):
    settings.MONITORING_METRICS_ALLOWED_IPS = ["127.0.0.1"]
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_silk_switch_needs_csrf(ops):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ops)
    response = strict.post("/monitoring/endpoint/silk", {"key": "GET /jobs/", "requests": "5"})
    assert response.status_code == 403


def test_the_database_panel_is_computed_once_for_all_viewers_within_its_refresh(
    client, ops, django_user_model, monkeypatch
):
    namespace_bump("monitoring")  # what earlier tests left in the cache
    computed = []

    def counting_health() -> dict:
        computed.append(1)
        # What it answers on SQLite: every panel empty.
        panels = ("statements", "cache", "connections", "long_running", "blocking", "tables")
        more = ("unused_indexes", "duplicate_indexes", "replication")
        return {"postgres": False, "statements_help": "Needs PostgreSQL.", **dict.fromkeys(panels + more)}

    monkeypatch.setattr(database, "database_health", counting_health)
    other = django_user_model.objects.create_user("ops2", is_staff=True)
    for viewer in (ops, other, ops):
        client.force_login(viewer)
        assert client.get("/monitoring/database/", HTTP_HX_REQUEST="true").status_code == 200
    assert client.get("/api/monitoring/database").status_code == 200
    assert len(computed) == 1
