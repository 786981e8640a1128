"""What users send by hand — redeliveries and test events — is bounded: never while one is
pending (409), and a few a minute per user (429 with Retry-After)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.jobs import services as jobs
from apps.jobs.models import Job, Status
from apps.notifications import services
from apps.notifications.models import DeliveryStatus, WebhookDelivery
from tests.notifications.conftest import run_job

API = "/api/notifications"
DELIVER = services.deliveries.DELIVER_KIND


def delivery_whose_job(endpoint, status: str, **job_fields) -> WebhookDelivery:
    """A delivery to ``endpoint`` whose job is in ``status`` (and the delivery in step)."""
    delivery = services.webhook_delivery_queue(
        owner=endpoint.owner, event="job.succeeded", data={"n": 1}, endpoint=endpoint
    )
    Job.objects.filter(uuid=delivery.job_uuid).update(status=status, **job_fields)
    delivery_status = {
        Status.SUCCEEDED: DeliveryStatus.SUCCEEDED,
        Status.DEAD: DeliveryStatus.FAILED,
        Status.CANCELLED: DeliveryStatus.FAILED,
        Status.FAILED: DeliveryStatus.RETRYING,
    }.get(status, DeliveryStatus.PENDING)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=delivery_status)
    delivery.refresh_from_db()
    return delivery


def deliver_jobs() -> int:
    return Job.objects.filter(kind=DELIVER).count()


# --- Redelivery while pending ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "job_fields", "says"),
    [
        (Status.QUEUED, {}, "it is queued"),
        (Status.SCHEDULED, {}, "it is queued"),
        (Status.RUNNING, {}, "it is being sent now"),
        (Status.FAILED, {"attempts": 1}, "attempt 2 is due at"),
    ],
)
def test_redeliver_of_a_pending_delivery_answers_409_and_queues_nothing(
    alice_client, endpoint, published, status, job_fields, says
):
    if status == Status.FAILED:
        job_fields["run_at"] = timezone.now() + timedelta(minutes=5)
    delivery = delivery_whose_job(endpoint, status, **job_fields)
    before = deliver_jobs()

    response = alice_client.post(f"{API}/deliveries/{delivery.uuid}/redeliver")

    assert response.status_code == 409
    message = response.json()["message"]
    assert "This delivery is already pending" in message and says in message
    assert deliver_jobs() == before
    delivery.refresh_from_db()
    assert Job.objects.get(uuid=delivery.job_uuid).status == status


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.DEAD, Status.CANCELLED])
def test_a_finished_delivery_can_be_redelivered_once_until_that_one_finishes(
    alice_client, endpoint, published, settings, status
):
    # The request cannon: 151 calls queued 152 jobs. Now one call queues one job and
    # the other 150 are told it is pending.
    settings.WEBHOOK_REDELIVER_RATE_LIMIT = 1000
    delivery = delivery_whose_job(endpoint, status)
    before = deliver_jobs()

    codes = [alice_client.post(f"{API}/deliveries/{delivery.uuid}/redeliver").status_code for _ in range(151)]

    assert codes[0] == 202 and set(codes[1:]) == {409}
    assert deliver_jobs() == before + 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert Job.objects.get(uuid=delivery.job_uuid).status == Status.QUEUED


@pytest.mark.django_db
def test_a_stale_pending_status_does_not_block_redelivery_once_the_job_ended(
    alice_client, endpoint, published
):
    # The row still says pending, but its job was cancelled: the job decides.
    delivery = delivery_whose_job(endpoint, Status.CANCELLED)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING)
    response = alice_client.post(f"{API}/deliveries/{delivery.uuid}/redeliver")
    assert response.status_code == 202


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("published", "quiet_heartbeat")
def test_cancelling_a_delivery_job_marks_its_delivery_failed(alice, endpoint):
    delivery = services.webhook_delivery_queue(owner=alice, event="job.succeeded", data={}, endpoint=endpoint)
    jobs.job_cancel(job=Job.objects.get(uuid=delivery.job_uuid), by=alice)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "The delivery job was cancelled."


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("published", "requires_postgres")
def test_two_redeliveries_at_once_queue_one_job(alice, endpoint):
    """The delivery's row is locked while it is judged: the second call waits for the first
    to commit, then sees its job pending."""
    delivery = delivery_whose_job(endpoint, Status.SUCCEEDED)
    outcome: dict[str, object] = {}

    def second_call() -> None:
        try:
            services.webhook_redeliver(delivery=WebhookDelivery.objects.get(pk=delivery.pk))
            outcome["result"] = "queued"
        except Exception as exc:
            outcome["result"] = exc
        finally:
            connection.close()

    with transaction.atomic():
        services.webhook_redeliver(delivery=delivery)
        other = threading.Thread(target=second_call)
        other.start()
        deadline = time.monotonic() + 10
        with connection.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0] == 1:
                    break
                assert time.monotonic() < deadline, "the second call never waited for the row lock"
                time.sleep(0.02)
    other.join(timeout=10)

    assert isinstance(outcome["result"], services.WebhookPending)
    assert Job.objects.filter(kind=DELIVER).count() == 2


# --- Rate limit ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_redeliveries_past_the_rate_limit_answer_429_with_retry_after(
    alice_client, endpoint, published, settings
):
    settings.WEBHOOK_REDELIVER_RATE_LIMIT = 3
    finished = [delivery_whose_job(endpoint, Status.SUCCEEDED) for _ in range(4)]
    for delivery in finished[:3]:
        assert alice_client.post(f"{API}/deliveries/{delivery.uuid}/redeliver").status_code == 202
    before = deliver_jobs()

    response = alice_client.post(f"{API}/deliveries/{finished[3].uuid}/redeliver")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many redeliveries and test events: 3 a minute" in response.json()["message"]
    assert deliver_jobs() == before


@pytest.mark.django_db
def test_the_rate_limit_is_per_user(client, alice, bob, endpoint, published, settings, allow_private):
    settings.WEBHOOK_REDELIVER_RATE_LIMIT = 1
    bobs = services.webhook_endpoint_create(owner=bob, url="http://127.0.0.1:9/bob")
    client.force_login(alice)
    assert client.post(f"{API}/endpoints/{endpoint.uuid}/test").status_code == 202
    assert client.post(f"{API}/endpoints/{endpoint.uuid}/test").status_code == 429
    client.force_login(bob)
    assert client.post(f"{API}/endpoints/{bobs.uuid}/test").status_code == 202


@pytest.mark.django_db
def test_test_events_and_redeliveries_share_the_rate_limit(alice_client, endpoint, published, settings):
    settings.WEBHOOK_REDELIVER_RATE_LIMIT = 2
    delivery = delivery_whose_job(endpoint, Status.DEAD)
    assert alice_client.post(f"{API}/endpoints/{endpoint.uuid}/test").status_code == 202
    assert alice_client.post(f"{API}/deliveries/{delivery.uuid}/redeliver").status_code == 202
    assert alice_client.post(f"{API}/endpoints/{endpoint.uuid}/test").status_code == 429


# --- Test events ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_test_event_while_one_is_pending_answers_409(alice_client, endpoint, published):
    first = alice_client.post(f"{API}/endpoints/{endpoint.uuid}/test")
    assert first.status_code == 202
    assert first.json()["event"] == "webhook.test" and first.json()["status"] == "pending"

    second = alice_client.post(f"{API}/endpoints/{endpoint.uuid}/test")

    assert second.status_code == 409
    assert "A test event to this endpoint is already pending" in second.json()["message"]
    assert WebhookDelivery.objects.filter(event="webhook.test").count() == 1
    # Once it has finished, another may be sent.
    Job.objects.filter(kind=DELIVER).update(status=Status.SUCCEEDED)
    assert alice_client.post(f"{API}/endpoints/{endpoint.uuid}/test").status_code == 202


@pytest.mark.django_db
def test_test_event_to_a_disabled_endpoint_answers_409(alice_client, endpoint, published):
    services.webhook_endpoint_update(endpoint=endpoint, is_active=False)
    response = alice_client.post(f"{API}/endpoints/{endpoint.uuid}/test")
    assert response.status_code == 409 and "disabled" in response.json()["message"]
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_other_user_and_staff_cannot_send_a_test_event(client, bob, ops, endpoint, published):
    for user in (bob, ops):
        client.force_login(user)
        assert client.post(f"{API}/endpoints/{endpoint.uuid}/test").status_code == 404
        assert client.post(reverse("notifications:endpoint_test", args=[endpoint.uuid])).status_code == 404
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("published", "quiet_heartbeat", "allow_private", "loopback_only")
def test_test_event_is_signed_sent_once_and_does_not_count_against_the_endpoint(alice, receiver):
    server = receiver(500)
    endpoint = services.webhook_endpoint_create(owner=alice, url=server.url, event_types=["job.dead"])

    delivery = services.webhook_endpoint_test(endpoint=endpoint, by=alice)
    deliver = run_job(Job.objects.get(uuid=delivery.job_uuid))

    [request] = server.requests
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint"] == str(endpoint.uuid)
    # Not retried: the user wants the answer now, and may send another.
    assert deliver.status == Status.DEAD and deliver.attempts == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code == 500
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


# --- Pages ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_redeliver_of_a_pending_delivery_shows_why(alice_client, endpoint, published):
    delivery = delivery_whose_job(endpoint, Status.QUEUED)
    response = alice_client.post(reverse("notifications:redeliver", args=[delivery.uuid]), follow=True)
    page = response.content.decode()
    assert "Cannot redeliver: This delivery is already pending (it is queued)" in page
    assert deliver_jobs() == 1


@pytest.mark.django_db
def test_page_redeliver_past_the_rate_limit_shows_when_to_try_again(
    alice_client, endpoint, published, settings
):
    settings.WEBHOOK_REDELIVER_RATE_LIMIT = 1
    first, second = (delivery_whose_job(endpoint, Status.DEAD) for _ in range(2))
    alice_client.post(reverse("notifications:redeliver", args=[first.uuid]))
    response = alice_client.post(reverse("notifications:redeliver", args=[second.uuid]), follow=True)
    page = response.content.decode()
    assert "Cannot redeliver: Too many redeliveries and test events: 1 a minute at most" in page
    assert "Try again in" in page
    second.refresh_from_db()
    assert Job.objects.get(uuid=second.job_uuid).status == Status.DEAD


@pytest.mark.django_db
def test_page_sends_a_test_event_and_then_says_it_is_pending(alice_client, endpoint, published):
    url = reverse("notifications:endpoint_test", args=[endpoint.uuid])
    assert "Test event queued" in alice_client.post(url, follow=True).content.decode()
    page = alice_client.post(url, follow=True).content.decode()
    assert "Cannot send a test event: A test event to this endpoint is already pending" in page
    assert WebhookDelivery.objects.filter(event="webhook.test").count() == 1


@pytest.mark.django_db
def test_the_delivery_log_offers_redelivery_only_for_finished_deliveries(alice_client, endpoint, published):
    pending = delivery_whose_job(endpoint, Status.QUEUED)
    done = delivery_whose_job(endpoint, Status.SUCCEEDED)
    page = alice_client.get(reverse("notifications:endpoint", args=[endpoint.uuid])).content.decode()
    assert reverse("notifications:redeliver", args=[done.uuid]) in page
    assert reverse("notifications:redeliver", args=[pending.uuid]) not in page
