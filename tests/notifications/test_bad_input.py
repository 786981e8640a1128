"""Bad input to the notifications API and pages is a clear 4xx with a message, never a 500."""

import pytest
from django.urls import reverse

from apps.notifications import services
from apps.notifications.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

API = "/api/notifications"


@pytest.fixture
def endpoint(alice, allow_private):
    return services.webhook_endpoint_create(owner=alice, url="http://127.0.0.1:9/hook", description="ci")


@pytest.mark.parametrize("limit", ["-1", "0", "-9223372036854775809"])
@pytest.mark.parametrize("path", ["", "/deliveries", "/endpoints/{endpoint}/deliveries"])
def test_a_limit_below_one_is_422(alice_client, endpoint, path, limit):
    response = alice_client.get(API + path.format(endpoint=endpoint.uuid), {"limit": limit})
    assert response.status_code == 422
    assert "limit" in response.json()["message"]


@pytest.mark.parametrize("path", ["", "/deliveries", "/endpoints/{endpoint}/deliveries"])
def test_a_huge_limit_is_capped(alice_client, endpoint, path):
    response = alice_client.get(API + path.format(endpoint=endpoint.uuid), {"limit": "99999999999999999999"})
    assert response.status_code == 200


@pytest.mark.parametrize("before", ["abc", "0", "-5", "1.5", "99999999999999999999"])
def test_a_malformed_cursor_is_422(alice_client, before):
    response = alice_client.get(API, {"before": before})
    assert response.status_code == 422
    assert response.json()["message"].startswith("Invalid input: before")


def test_the_notifications_page_ignores_a_cursor_it_cannot_read(alice_client):
    for before in ("abc", "99999999999999999999", "-1"):
        assert alice_client.get(reverse("notifications:list"), {"before": before}).status_code == 200


def test_an_overlong_description_is_422_and_nothing_changes(alice_client, endpoint):
    for description in ("x" * 201, "x" * 1_000_000):
        patched = alice_client.patch(
            f"{API}/endpoints/{endpoint.uuid}", {"description": description}, content_type="application/json"
        )
        assert patched.status_code == 422
        assert "at most 200 characters" in patched.json()["message"]
        created = alice_client.post(
            f"{API}/endpoints",
            {"url": "http://127.0.0.1:9/other", "description": description},
            content_type="application/json",
        )
        assert created.status_code == 422
    endpoint.refresh_from_db()
    assert endpoint.description == "ci"
    assert WebhookEndpoint.objects.count() == 1


def test_an_overlong_url_is_422(alice_client, allow_private):
    url = "http://127.0.0.1:9/" + "a" * 500
    response = alice_client.post(f"{API}/endpoints", {"url": url}, content_type="application/json")
    assert response.status_code == 422 and "at most 500 characters" in response.json()["message"]


def test_too_many_or_too_long_event_types_are_422(alice_client, endpoint):
    for event_types in (["job.dead"] * 1000, ["x" * 10_000]):
        response = alice_client.patch(
            f"{API}/endpoints/{endpoint.uuid}", {"event_types": event_types}, content_type="application/json"
        )
        assert response.status_code == 422
        assert len(response.json()["message"]) < 1000


def test_unknown_event_types_are_named_briefly(alice_client, endpoint):
    response = alice_client.patch(
        f"{API}/endpoints/{endpoint.uuid}",
        {"event_types": [f"nope.{n}" for n in range(6)]},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "'nope.0'" in response.json()["message"] and "..." in response.json()["message"]


def test_a_preferences_list_longer_than_every_choice_is_422(alice_client):
    item = {"event": "job.dead", "channel": "email", "enabled": False}
    response = alice_client.put(f"{API}/preferences", [item] * 1000, content_type="application/json")
    assert response.status_code == 422 and "at most 18 items" in response.json()["message"]


def test_the_service_refuses_an_overlong_description_instead_of_cutting_it(alice, allow_private):
    with pytest.raises(services.WebhookInputError, match="too long"):
        services.webhook_endpoint_create(owner=alice, url="http://127.0.0.1:9/in", description="x" * 201)
    assert not WebhookEndpoint.objects.exists()


def test_a_description_with_nul_is_a_4xx_not_a_500(alice_client, endpoint):
    response = alice_client.patch(
        f"{API}/endpoints/{endpoint.uuid}", {"description": "a\u0000b"}, content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert response.json()["message"]
    endpoint.refresh_from_db()
    assert endpoint.description == "ci"
