"""Webhook deliveries as records and jobs: queued here, attempted in ``webhooks``.

A leaf of the services: ``notify`` queues deliveries through it, and ``webhooks`` (which
tells an endpoint's owner through ``notify`` when it disables the endpoint) builds on it,
so neither has to import the other at call time.
"""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.jobs import services as jobs
from apps.jobs.models import ACTIVE_STATUSES, Job, Status
from apps.notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

DELIVER_KIND = "notifications.deliver_webhook"


@transaction.atomic
def webhook_delivery_queue(
    *, owner: AbstractBaseUser, event: str, data: dict, endpoint: WebhookEndpoint | None = None, url: str = ""
) -> WebhookDelivery:
    """Record one delivery (to an endpoint, or to a job's own URL) and enqueue its job.

    One transaction: the row, its job and the job's id on the row commit together, and
    the job reaches the broker only once they have.
    """
    payload = {"type": event, "timestamp": timezone.now().isoformat(), "data": data}
    delivery = WebhookDelivery.objects.create(
        owner=owner,
        endpoint=endpoint,
        url=endpoint.url if endpoint else url,
        event=event,
        message_id=f"msg_{uuid.uuid4().hex}",
        payload=payload,
    )
    delivery_job_enqueue(delivery)
    return delivery


def delivery_job_enqueue(delivery: WebhookDelivery) -> None:
    """A new job for the delivery's attempts, its id stored on the row (callers hold a
    transaction: the job is published when it commits)."""
    # The owner owns the job: their deliveries show in their jobs list, with attempts.
    job = jobs.enqueue(DELIVER_KIND, params={"delivery_id": delivery.pk}, owner=delivery.owner)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(job_uuid=job.uuid)
    delivery.job_uuid = job.uuid


def delivery_pending_job(delivery: WebhookDelivery) -> Job | None:
    """The delivery's job if it still waits or runs (queued, scheduled, running, or failed
    with a retry due); None once it succeeded, died or was cancelled."""
    if delivery.job_uuid is None:
        return None
    return (
        Job.objects.filter(uuid=delivery.job_uuid, status__in=ACTIVE_STATUSES)
        .only("status", "run_at", "attempts")
        .first()
    )


def webhook_delivery_job_ended(*, job: Job, status: str) -> int:
    """A delivery job ended without its last attempt saying how (cancelled, or killed on
    its last attempt): its delivery says it failed instead of staying pending."""
    if job.kind != DELIVER_KIND or status == Status.SUCCEEDED:
        return 0
    if status == Status.CANCELLED:
        reason = "The delivery job was cancelled."
    else:
        reason = f"The delivery job ended as {status}: {job.error}"
    return WebhookDelivery.objects.filter(
        job_uuid=job.uuid, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).update(status=DeliveryStatus.FAILED, last_error=reason[:500])
