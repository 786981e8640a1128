"""Notification pages: access, the cached bell, mark read, preferences, webhook endpoints."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.jobs.models import Job
from apps.notifications import selectors, services
from apps.notifications.models import (
    DeliveryStatus,
    Notification,
    Preference,
    WebhookEndpoint,
)
from tests.notifications.conftest import delivery_recorded

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def tell(user, title="Report ready", **kwargs) -> Notification:
    return services.notification_create(recipient=user, event="job.succeeded", title=title, **kwargs)


# --- Access ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["list", "bell", "preferences", "webhooks"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(f"notifications:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_other_users_notification_cannot_be_marked_read(client, alice, bob):
    notification = tell(alice)
    client.force_login(bob)
    response = client.post(reverse("notifications:read", args=[notification.pk]))
    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


@pytest.mark.parametrize("name", ["endpoint", "endpoint_toggle", "endpoint_delete", "endpoint_test"])
def test_other_user_and_staff_get_404_for_an_endpoint(client, bob, ops, endpoint, name):
    method = client.get if name == "endpoint" else client.post
    for user in (bob, ops):
        client.force_login(user)
        assert method(reverse(f"notifications:{name}", args=[endpoint.uuid])).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_owner_sees_their_endpoint_and_its_delivery_log(
    alice_client, endpoint, django_assert_max_num_queries
):
    delivery = delivery_recorded(endpoint, message_id="msg_1", status=DeliveryStatus.FAILED)
    delivery.attempt_log.create(
        number=1, status_code=503, latency_ms=12, response_excerpt="busy", will_retry=False
    )
    with django_assert_max_num_queries(8):
        response = alice_client.get(reverse("notifications:endpoint", args=[endpoint.uuid]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "msg_1" in page and "503" in page and "12 ms" in page and "busy" in page and "Redeliver" in page
    assert endpoint.secret not in page


def test_other_user_cannot_redeliver(client, bob, endpoint, published):
    delivery = delivery_recorded(endpoint)
    client.force_login(bob)
    assert client.post(reverse("notifications:redeliver", args=[delivery.uuid])).status_code == 404
    assert not Job.objects.exists()


# --- Bell and list --------------------------------------------------------------------


def notification_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "notifications_notification" in q["sql"]]


def test_unread_count_costs_no_query_once_cached(alice_client, alice, django_capture_on_commit_callbacks):
    # The services refresh the cached state once their writes commit.
    with django_capture_on_commit_callbacks(execute=True):
        tell(alice)
        tell(alice, title="Second")
    for _ in range(2):
        with CaptureQueriesContext(connection) as page_queries:
            page = alice_client.get(reverse("jobs:list")).content.decode()
        assert 'aria-label="2 unread"' in page and "Second" in page
        assert notification_queries(page_queries) == []


def test_page_never_queries_for_the_bell_and_its_poll_fills_the_cache(alice_client, alice):
    tell(alice)  # no commit callbacks here: the cache stays empty
    with CaptureQueriesContext(connection) as page_queries:
        page = alice_client.get(reverse("jobs:list")).content.decode()
    assert 'data-etag=""' in page and "unread" not in page
    assert notification_queries(page_queries) == []

    with CaptureQueriesContext(connection) as poll_queries:
        assert 'aria-label="1 unread"' in alice_client.get(reverse("notifications:bell")).content.decode()
    assert notification_queries(poll_queries)
    with CaptureQueriesContext(connection) as second_render:
        assert 'aria-label="1 unread"' in alice_client.get(reverse("jobs:list")).content.decode()
    assert notification_queries(second_render) == []


def test_new_notification_and_read_mark_refresh_the_cached_count(
    alice_client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification = tell(alice, title="Fresh news")
    assert selectors.bell_state_cached(user=alice)["unread"] == 1
    assert "Fresh news" in alice_client.get(reverse("jobs:list")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        services.notification_mark_read(notification=notification)
    assert selectors.bell_state_cached(user=alice)["unread"] == 0
    assert 'aria-label="1 unread"' not in alice_client.get(reverse("jobs:list")).content.decode()


def test_bell_item_opens_the_notifications_link_for_its_owner_only(client, alice, bob):
    notification = tell(alice, link="/jobs/")
    client.force_login(bob)
    assert client.get(reverse("notifications:open", args=[notification.pk])).status_code == 404
    client.force_login(alice)
    response = client.get(reverse("notifications:open", args=[notification.pk]))
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    elsewhere = tell(alice, link="https://evil.example/")
    response = client.get(reverse("notifications:open", args=[elsewhere.pk]))
    assert response["Location"] == f"/notifications/#notification-{elsewhere.pk}"


def test_bell_poll_answers_304_while_nothing_changed(alice_client, alice):
    tell(alice)
    first = alice_client.get(reverse("notifications:bell"))
    assert first.status_code == 200 and 'id="notification-bell"' in first.content.decode()
    unchanged = alice_client.get(reverse("notifications:bell"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304 and unchanged.content == b""
    tell(alice, title="Another")
    changed = alice_client.get(reverse("notifications:bell"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and "Another" in changed.content.decode()


def test_list_shows_only_own_notifications(alice_client, alice, bob, django_assert_max_num_queries):
    for index in range(30):
        tell(alice, title=f"Alice {index}")
    tell(bob, title="Bob secret")
    with django_assert_max_num_queries(8):
        response = alice_client.get(reverse("notifications:list"))
    page = response.content.decode()
    assert "Alice 29" in page and "Bob secret" not in page
    assert page.count('class="notif level-') == 25
    assert "?before=" in page


def test_list_poll_answers_304_then_the_new_list(alice_client, alice):
    response = alice_client.get(reverse("notifications:list"))
    etag = response["ETag"]
    assert alice_client.get(reverse("notifications:list"), HTTP_IF_NONE_MATCH=etag, **HTMX).status_code == 304
    tell(alice, title="Live one")
    fresh = alice_client.get(reverse("notifications:list"), HTTP_IF_NONE_MATCH=etag, **HTMX)
    assert fresh.status_code == 200
    assert "Live one" in fresh.content.decode() and "<html" not in fresh.content.decode()


def test_mark_one_and_all_read(alice_client, alice):
    first = tell(alice)
    tell(alice)
    response = alice_client.post(reverse("notifications:read", args=[first.pk]))
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.read_at is not None
    alice_client.post(reverse("notifications:read_all"))
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()
    assert selectors.bell_state(user=alice)["unread"] == 0


def test_mark_read_needs_csrf(client, alice):
    notification = tell(alice)
    client.handler.enforce_csrf_checks = True
    client.force_login(alice)
    assert client.post(reverse("notifications:read", args=[notification.pk])).status_code == 403
    assert client.post(reverse("notifications:read_all")).status_code == 403


# --- Preferences ----------------------------------------------------------------------


def test_preferences_show_defaults_and_save_choices(alice_client, alice):
    page = alice_client.get(reverse("notifications:preferences")).content.decode()
    assert re.search(r'name="job_dead__email"[^>]*checked', page)
    assert not re.search(r'name="job_succeeded__email"[^>]*checked', page)
    data = {"job_dead__in_app": "on", "job_succeeded__in_app": "on"}
    response = alice_client.post(reverse("notifications:preferences"), data)
    assert response.status_code == 302
    prefs = selectors.preferences_for_user(user=alice)
    assert prefs[("job.dead", "email")] is False
    assert prefs[("job.dead", "in_app")] is True
    assert prefs[("job.cancelled", "in_app")] is False
    assert Preference.objects.filter(user=alice).count() == 18


# --- Webhook endpoints ----------------------------------------------------------------


def test_adding_an_endpoint_shows_its_secret_once(alice_client, alice, allow_private):
    response = alice_client.post(
        reverse("notifications:webhooks"), {"url": "http://127.0.0.1:9/in", "event_types": ["job.dead"]}
    )
    endpoint = WebhookEndpoint.objects.get(owner=alice)
    assert endpoint.event_types == ["job.dead"]
    assert endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert endpoint.secret not in alice_client.get(reverse("notifications:webhooks")).content.decode()


def test_toggle_and_delete_an_endpoint(alice_client, endpoint):
    alice_client.post(reverse("notifications:endpoint_toggle", args=[endpoint.uuid]))
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    alice_client.post(reverse("notifications:endpoint_toggle", args=[endpoint.uuid]))
    endpoint.refresh_from_db()
    assert endpoint.is_active
    alice_client.post(reverse("notifications:endpoint_delete", args=[endpoint.uuid]))
    assert not WebhookEndpoint.objects.exists()


def test_rotating_the_account_secret_shows_the_new_one(alice_client, alice):
    first = alice_client.post(reverse("notifications:signing_secret_rotate")).content.decode()
    second = alice_client.post(reverse("notifications:signing_secret_rotate")).content.decode()
    secret = alice.webhook_signing_secret.__class__.objects.get(user=alice).secret
    assert secret in second and secret not in first


def test_webhooks_page_query_count(alice_client, alice, allow_private, django_assert_max_num_queries):
    for index in range(5):
        services.webhook_endpoint_create(owner=alice, url=f"http://127.0.0.1:{9 + index}/")
    with django_assert_max_num_queries(10):
        response = alice_client.get(reverse("notifications:webhooks"))
    assert response.content.decode().count("/notifications/webhooks/") >= 5


def test_admin_lists_records_for_staff(ops_client, alice, endpoint):
    tell(alice, title="Seen by operators")
    assert "Seen by operators" in ops_client.get("/admin/notifications/notification/").content.decode()
    page = ops_client.get(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.url in page and endpoint.secret not in page
