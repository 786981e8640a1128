"""Signed webhook deliveries to a real HTTP receiver on loopback, run as jobs with retries."""

import json

import pytest
from standardwebhooks.webhooks import Webhook

from apps.jobs import services as jobs
from apps.jobs.models import Job, Status
from apps.notifications import services
from apps.notifications.models import (
    DeliveryStatus,
    Notification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.notifications.conftest import finished_noop, retry_delays, run_job, run_until_final

# runner.execute() reopens its connection, as in a worker: rows must be committed.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("published", "quiet_heartbeat", "allow_private", "loopback_only"),
]


def delivery_job(delivery: WebhookDelivery) -> Job:
    delivery.refresh_from_db()
    return Job.objects.get(uuid=delivery.job_uuid)


def job_end_delivered_to(owner, server) -> tuple[WebhookEndpoint, WebhookDelivery]:
    """An endpoint of ``owner`` at ``server`` and the delivery that one of their jobs
    ending queued to it."""
    endpoint = services.webhook_endpoint_create(owner=owner, url=server.url)
    finished_noop(owner)
    return endpoint, WebhookDelivery.objects.get(endpoint=endpoint)


def test_receiver_gets_a_signed_webhook_when_a_job_ends(alice, receiver):
    server = receiver(200)
    endpoint = services.webhook_endpoint_create(owner=alice, url=server.url, event_types=["job.succeeded"])
    job = finished_noop(alice)

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    deliver = run_job(delivery_job(delivery))

    assert deliver.status == Status.SUCCEEDED
    assert deliver.owner == alice
    [request] = server.requests
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == str(job.uuid)
    assert payload["data"]["status"] == "succeeded"
    assert request["headers"]["webhook-id"] == delivery.message_id
    with pytest.raises(Exception, match="signature"):
        Webhook(services.webhooks.new_secret()).verify(request["body"], request["headers"])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code == 200 and attempt.latency_ms is not None
    assert '"received": true' in attempt.response_excerpt


def test_endpoint_not_subscribed_to_the_event_gets_nothing(alice, receiver):
    server = receiver(200)
    services.webhook_endpoint_create(owner=alice, url=server.url, event_types=["job.dead"])
    finished_noop(alice)
    assert not WebhookDelivery.objects.exists()
    assert server.requests == []


def test_receiver_failing_twice_gets_three_attempts_with_growing_delays(alice, receiver):
    server = receiver(500, 500, 200)
    endpoint, delivery = job_end_delivered_to(alice, server)

    deliver = run_until_final(delivery_job(delivery))

    assert deliver.status == Status.SUCCEEDED
    assert deliver.attempts == 3
    assert len(server.requests) == 3
    # One message id for all attempts, so that the receiver can deduplicate.
    assert {r["headers"]["webhook-id"] for r in server.requests} == {delivery.message_id}
    first, second = retry_delays(deliver)
    assert second > first > 0
    log = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code, a.will_retry) for a in log] == [
        (1, 500, True),
        (2, 500, True),
        (3, 200, False),
    ]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


def test_receiver_answering_410_disables_the_endpoint_and_tells_its_owner(alice, bob, receiver):
    server = receiver(410)
    endpoint, delivery = job_end_delivered_to(alice, server)

    deliver = run_job(delivery_job(delivery))

    # No retry: dead after one attempt.
    assert deliver.status == Status.DEAD and deliver.attempts == 1
    assert len(server.requests) == 1
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "410" in endpoint.disabled_reason
    told = Notification.objects.get(recipient=alice, event="webhook.disabled")
    assert endpoint.url in told.title
    assert not Notification.objects.filter(recipient=bob).exists()
    # A disabled endpoint receives no more events.
    finished_noop(alice)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


def test_client_error_is_not_retried(alice, receiver):
    server = receiver(400)
    endpoint, delivery = job_end_delivered_to(alice, server)

    deliver = run_job(delivery_job(delivery))

    assert deliver.status == Status.DEAD and deliver.attempts == 1
    assert "HTTP 400" in deliver.error
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 400
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 1


def test_too_many_failed_deliveries_in_a_row_disable_the_endpoint(alice, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    server = receiver(404)
    endpoint = services.webhook_endpoint_create(owner=alice, url=server.url)
    finished_noop(alice)
    finished_noop(alice)
    for delivery in WebhookDelivery.objects.filter(endpoint=endpoint):
        run_job(delivery_job(delivery))
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "2 deliveries in a row failed" in endpoint.disabled_reason
    assert Notification.objects.filter(recipient=alice, event="webhook.disabled").count() == 1


def test_network_error_is_retried_then_the_delivery_fails(alice, receiver):
    server = receiver(200)
    url = server.url
    endpoint = services.webhook_endpoint_create(owner=alice, url=url)
    # Nothing listens there any more: connection refused on every attempt.
    server.server.shutdown()
    server.server.server_close()
    finished_noop(alice)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    deliver = run_until_final(delivery_job(delivery))

    assert deliver.status == Status.DEAD
    assert deliver.attempts == deliver.max_attempts == 6
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "ConnectionRefusedError" in delivery.last_error


def test_jobs_own_webhook_url_is_signed_with_the_owners_account_secret(alice, receiver):
    server = receiver(200)
    secret = services.signing_secret_rotate(user=alice)
    job = finished_noop(alice, webhook_url=server.url)

    delivery = WebhookDelivery.objects.get(endpoint__isnull=True)
    run_job(delivery_job(delivery))

    [request] = server.requests
    payload = Webhook(secret).verify(request["body"], request["headers"])
    assert payload["data"]["id"] == str(job.uuid)


def test_job_without_owner_notifies_nobody(alice, receiver):
    server = receiver(200)
    services.webhook_endpoint_create(owner=alice, url=server.url)
    run_job(jobs.enqueue("diagnostics.noop", webhook_url=server.url))
    assert not Notification.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_redeliver_sends_the_same_message_again(alice, receiver):
    server = receiver(200)
    _, delivery = job_end_delivered_to(alice, server)
    run_job(delivery_job(delivery))

    services.webhook_redeliver(delivery=delivery)
    again = run_job(delivery_job(delivery))

    assert again.status == Status.SUCCEEDED
    assert len(server.requests) == 2
    first, second = (json.loads(r["body"]) for r in server.requests)
    assert first == second
    assert server.requests[1]["headers"]["webhook-id"] == delivery.message_id
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


def test_name_is_sent_as_host_while_the_checked_address_is_connected(alice, receiver, fake_dns):
    server = receiver(200)
    lookups = fake_dns({"hooks.example": ["127.0.0.1"]})
    endpoint = services.webhook_endpoint_create(owner=alice, url=f"http://hooks.example:{server.port}/in")
    finished_noop(alice)
    lookups.clear()
    run_job(delivery_job(WebhookDelivery.objects.get(endpoint=endpoint)))

    [request] = server.requests
    assert request["headers"]["Host"] == f"hooks.example:{server.port}"
    assert request["path"] == "/in"
    # Resolved once, at the check; the connection used that answer, not a second lookup.
    assert lookups == ["hooks.example"]


def test_delivery_jobs_do_not_notify_about_themselves(alice, receiver):
    server = receiver(200)
    endpoint = services.webhook_endpoint_create(owner=alice, url=server.url)
    finished_noop(alice)
    run_job(delivery_job(WebhookDelivery.objects.get(endpoint=endpoint)))
    # One notification (the job), none for the delivery job that succeeded.
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert WebhookDelivery.objects.count() == 1
    assert WebhookEndpoint.objects.get().consecutive_failures == 0
