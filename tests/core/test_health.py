import pytest


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
