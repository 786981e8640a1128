"""The notifications API: own notifications, preferences, endpoints, deliveries, secrets."""

import pytest

from apps.jobs.models import Job
from apps.notifications import services
from apps.notifications.models import Notification, SigningSecret, WebhookEndpoint
from tests.notifications.conftest import delivery_recorded

pytestmark = pytest.mark.django_db

API = "/api/notifications"


def tell(user, title="Done") -> Notification:
    return services.notification_create(recipient=user, event="job.succeeded", title=title)


def test_anonymous_gets_401(client):
    for path in ("", "/endpoints", "/deliveries", "/preferences"):
        response = client.get(API + path)
        assert response.status_code == 401
        assert "Authentication required" in response.json()["message"]


def test_list_is_own_newest_first_with_unread_count(alice_client, alice, bob, django_assert_max_num_queries):
    for index in range(5):
        tell(alice, f"alice {index}")
    tell(bob, "bob")
    with django_assert_max_num_queries(6):
        body = alice_client.get(API, {"limit": 3}).json()
    assert [item["title"] for item in body["items"]] == ["alice 4", "alice 3", "alice 2"]
    assert body["unread"] == 5
    older = alice_client.get(API, {"limit": 3, "before": body["next"]}).json()
    assert [item["title"] for item in older["items"]] == ["alice 1", "alice 0"] and older["next"] is None


def test_mark_read_own_only(alice_client, alice, bob):
    mine, theirs = tell(alice), tell(bob)
    assert alice_client.post(f"{API}/{theirs.pk}/read").status_code == 404
    response = alice_client.post(f"{API}/{mine.pk}/read")
    assert response.status_code == 200 and response.json()["read_at"]
    tell(alice)
    assert alice_client.post(f"{API}/read-all").json() == {"marked": 1}
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 1


def test_preferences_round_trip_and_bad_names(alice_client):
    response = alice_client.put(
        f"{API}/preferences",
        [{"event": "job.dead", "channel": "email", "enabled": False}],
        content_type="application/json",
    )
    assert response.status_code == 200
    assert {"event": "job.dead", "channel": "email", "enabled": False} in response.json()
    bad = alice_client.put(
        f"{API}/preferences",
        [{"event": "job.nope", "channel": "email", "enabled": True}],
        content_type="application/json",
    )
    assert bad.status_code == 422 and "job.nope" in bad.json()["message"]


def test_endpoint_crud_with_secret_shown_once(alice_client, alice, allow_private):
    created = alice_client.post(
        f"{API}/endpoints",
        {"url": "http://127.0.0.1:9/in", "event_types": ["job.dead"], "description": "ci"},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["job.dead"]
    shown = alice_client.get(f"{API}/endpoints/{body['id']}").json()
    assert "secret" not in shown
    patched = alice_client.patch(
        f"{API}/endpoints/{body['id']}", {"is_active": False}, content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    bad = alice_client.patch(
        f"{API}/endpoints/{body['id']}", {"event_types": ["nope"]}, content_type="application/json"
    )
    assert bad.status_code == 422 and "nope" in bad.json()["message"]
    assert alice_client.delete(f"{API}/endpoints/{body['id']}").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_other_users_endpoint_and_deliveries_are_404(client, bob, ops, endpoint, published):
    delivery = delivery_recorded(endpoint)
    for user in (bob, ops):
        client.force_login(user)
        assert client.get(f"{API}/endpoints/{endpoint.uuid}").status_code == 404
        assert (
            client.patch(
                f"{API}/endpoints/{endpoint.uuid}", {"is_active": False}, content_type="application/json"
            ).status_code
            == 404
        )
        assert client.delete(f"{API}/endpoints/{endpoint.uuid}").status_code == 404
        assert client.get(f"{API}/endpoints/{endpoint.uuid}/deliveries").status_code == 404
        assert client.get(f"{API}/deliveries/{delivery.uuid}").status_code == 404
        assert client.post(f"{API}/deliveries/{delivery.uuid}/redeliver").status_code == 404
        assert client.get(f"{API}/deliveries").json() == []
    endpoint.refresh_from_db()
    assert endpoint.is_active and not Job.objects.exists()


def test_deliveries_list_and_redeliver(alice_client, endpoint, published, django_assert_max_num_queries):
    for index in range(4):
        delivery = delivery_recorded(endpoint, message_id=f"m{index}")
        delivery.attempt_log.create(number=1, status_code=500, latency_ms=3, will_retry=False)
    with django_assert_max_num_queries(6):
        items = alice_client.get(f"{API}/endpoints/{endpoint.uuid}/deliveries").json()
    assert len(items) == 4 and items[0]["attempt_log"][0]["status_code"] == 500
    assert items[0]["endpoint"] == str(endpoint.uuid)
    response = alice_client.post(f"{API}/deliveries/{items[0]['id']}/redeliver")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert Job.objects.filter(kind="notifications.deliver_webhook").count() == 1
    services.webhook_endpoint_update(endpoint=endpoint, is_active=False)
    refused = alice_client.post(f"{API}/deliveries/{items[0]['id']}/redeliver")
    assert refused.status_code == 409 and "disabled" in refused.json()["message"]


def test_rotate_signing_secret(alice_client, alice):
    first = alice_client.post(f"{API}/signing-secret/rotate").json()["secret"]
    second = alice_client.post(f"{API}/signing-secret/rotate").json()["secret"]
    assert first != second and SigningSecret.objects.get(user=alice).secret == second
