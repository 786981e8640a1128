import pytest
from health_check.exceptions import ServiceUnavailable

from apps.core.health import MigrationsApplied


def test_liveness_answers_without_touching_the_database(client):
    # No django_db mark: any query here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


@pytest.mark.django_db
def test_readiness_reports_each_check_as_json(client):
    response = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert any("Database" in name for name in body)
    assert any("MigrationsApplied" in name for name in body)
    assert all(value == "OK" for value in body.values())


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*"])
def test_public_readiness_shows_each_check_and_no_details(client, settings, accept):
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"

    response = client.get("/readyz", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response.json() == {"Database": "OK", "Cache": "OK", "MigrationsApplied": "OK", "Redis": "OK"}
    for detail in ("127.0.0.1", "6379", "db=", "alias", "host"):
        assert detail not in response.text


@pytest.mark.django_db
def test_public_readiness_in_text_and_other_formats_shows_no_details(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"

    text = client.get("/readyz", HTTP_ACCEPT="text/plain")
    metrics = client.get("/readyz?format=openmetrics")

    assert text.text == "Database: OK\nCache: OK\nMigrationsApplied: OK\nRedis: OK\n"
    assert metrics.json()["Redis"] == "OK"
    assert "6379" not in metrics.text


@pytest.mark.django_db
def test_failing_check_is_503_for_everyone_with_the_error_only_for_staff(client, ops, monkeypatch):
    def unapplied(self):
        raise ServiceUnavailable("2 migration(s) not applied on 127.0.0.1")

    monkeypatch.setattr(MigrationsApplied, "run", unapplied)

    public = client.get("/readyz", HTTP_ACCEPT="application/json")
    client.force_login(ops)
    staff = client.get("/readyz", HTTP_ACCEPT="application/json")

    assert public.status_code == staff.status_code == 503
    assert public.json()["MigrationsApplied"] == "unavailable"
    assert "127.0.0.1" not in public.text
    assert any("not applied on 127.0.0.1" in value for value in staff.json().values())


@pytest.mark.django_db
def test_redis_down_is_reported_but_leaves_the_process_ready(client, ops, settings):
    # Nothing listens on port 9 (discard) of loopback: the Redis check fails at once. The app
    # serves without Redis (sessions, cache and broker fall back), so the balancer keeps it.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"

    public = client.get("/readyz", HTTP_ACCEPT="application/json")
    client.force_login(ops)
    staff = client.get("/readyz", HTTP_ACCEPT="application/json")

    assert public.status_code == staff.status_code == 200
    assert public.json()["Redis"] == "unavailable"
    assert public.json()["Database"] == "OK"
    assert "127.0.0.1" not in public.text
    assert any("Redis" in name and "127.0.0.1" in name for name in staff.json())
    assert any(value != "OK" for value in staff.json().values())


@pytest.mark.django_db
def test_the_metrics_token_shows_the_details(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/3"
    settings.MONITORING_METRICS_TOKEN = "probe-secret"

    wrong = client.get("/readyz", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION="Bearer nope")
    right = client.get("/readyz", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION="Bearer probe-secret")

    assert "Redis" in wrong.json()
    assert "Redis(db=3, host='127.0.0.1', port=6379)" in right.json()


@pytest.mark.django_db
def test_staff_status_page_may_style_itself(ops_client):
    response = ops_client.get("/readyz", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert "<table" in response.text
    assert "style-src 'self' 'unsafe-inline'" in response["Content-Security-Policy"]
