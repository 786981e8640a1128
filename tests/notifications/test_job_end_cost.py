"""What telling an owner that their job ended costs the worker, and that the cached
recipient settings never hide a change of preferences or endpoints."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs import services as jobs
from apps.notifications import selectors, services
from apps.notifications.models import Notification, WebhookDelivery
from tests.notifications.conftest import finished_noop, run_job

# runner.execute() reopens its connection, as in a worker: rows must be committed.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("published", "quiet_heartbeat", "allow_private", "loopback_only"),
]

NOTIFICATION_TABLES = ("notifications_", "auth_user")


def listener_queries(captured) -> list[str]:
    """The statements of the notifications listener (the job's own claim and finish aside)."""
    return [query["sql"] for query in captured if any(table in query["sql"] for table in NOTIFICATION_TABLES)]


def test_ended_job_tells_its_owner_with_one_insert_and_one_bell_read(alice):
    finished_noop(alice)  # the first end caches alice's settings
    job = jobs.enqueue("diagnostics.noop", owner=alice)
    with CaptureQueriesContext(connection) as captured:
        run_job(job)
    statements = listener_queries(captured)
    # Was six: the owner, their preferences, the INSERT, the unread count, the latest few
    # and their webhook endpoints.
    assert len(statements) == 2, statements
    assert statements[0].startswith("INSERT INTO")
    assert not any('FROM "auth_user"' in sql for sql in statements)
    assert Notification.objects.filter(recipient=alice, event="job.succeeded").count() == 2
    bell = selectors.bell_state_cached(user=alice)
    assert bell["unread"] == 2 and bell["latest"][0]["title"] == "Job diagnostics.noop succeeded"


def test_bell_refresh_is_one_query_with_the_count(alice, bob, django_assert_num_queries):
    for title in ("one", "two", "three"):
        services.notification_create(recipient=alice, event="job.succeeded", title=title)
    services.notification_create(recipient=bob, event="job.succeeded", title="bob's")
    Notification.objects.filter(recipient=alice, title="one").update(read_at="2026-01-01T00:00:00Z")

    with django_assert_num_queries(1):
        state = selectors.bell_state_refresh(user_id=alice.pk)

    assert state["unread"] == 2
    assert [row["title"] for row in state["latest"]] == ["three", "two", "one"]
    assert [row["read"] for row in state["latest"]] == [False, False, True]


def test_user_without_notifications_has_an_empty_bell(alice):
    assert selectors.bell_state_refresh(user_id=alice.pk) == {"unread": 0, "latest": []}


def test_turning_in_app_off_applies_to_the_next_job_end(alice):
    finished_noop(alice)
    services.preferences_set(user=alice, choices={("job.succeeded", "in_app"): False})
    finished_noop(alice)
    assert Notification.objects.filter(recipient=alice).count() == 1

    services.preferences_set(user=alice, choices={("job.succeeded", "in_app"): True})
    finished_noop(alice)
    assert Notification.objects.filter(recipient=alice).count() == 2


def test_new_disabled_and_deleted_endpoints_apply_to_the_next_job_end(alice):
    finished_noop(alice)  # cached: no endpoints
    endpoint = services.webhook_endpoint_create(owner=alice, url="http://127.0.0.1:9/hook")
    finished_noop(alice)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1

    services.webhook_endpoint_update(endpoint=endpoint, is_active=False)
    finished_noop(alice)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1

    services.webhook_endpoint_update(endpoint=endpoint, is_active=True)
    services.webhook_endpoint_update(endpoint=endpoint, event_types=["job.dead"])
    finished_noop(alice)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1

    services.webhook_endpoint_update(endpoint=endpoint, event_types=[])
    finished_noop(alice)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2

    services.webhook_endpoint_delete(endpoint=endpoint)  # its deliveries go with it
    finished_noop(alice)
    assert not WebhookDelivery.objects.filter(owner=alice).exists()


def test_other_users_settings_are_their_own(alice, bob):
    services.preferences_set(user=bob, choices={("job.succeeded", "in_app"): False})
    finished_noop(alice)
    finished_noop(bob)
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert not Notification.objects.filter(recipient=bob).exists()


def test_bell_that_cannot_be_recounted_is_dropped_not_left_stale(alice, monkeypatch):
    services.notification_create(recipient=alice, event="job.succeeded", title="first")
    assert selectors.bell_state_cached(user=alice)["unread"] == 1

    def recount_fails(*, user_id):
        raise ConnectionError("database went away")

    monkeypatch.setattr(services.inapp, "bell_state_refresh", recount_fails)
    with pytest.raises(ConnectionError):
        services.notification_create(recipient=alice, event="job.succeeded", title="second")
    assert selectors.bell_state_cached(user=alice) is None
