"""Webhook endpoints, account signing secrets, and signed deliveries sent by jobs.

A delivery is a row (the log) plus a job ("notifications.deliver_webhook") whose every
attempt calls ``webhook_attempt``. Network errors, 5xx, 408 and 429 are retried by the jobs
engine with backoff; any other answer is final. A 410 disables the endpoint at once, and
``WEBHOOK_DISABLE_AFTER_FAILURES`` deliveries failing in a row disable it too; its owner
is told in the app and by e-mail.
"""

import base64
import http.client
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.core import outbound
from apps.jobs import services as jobs
from apps.notifications.models import (
    DeliveryStatus,
    Event,
    Level,
    SigningSecret,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.notifications.services.inapp import recipient_settings_changed

logger = logging.getLogger("apps.notifications")

DELIVER_KIND = "notifications.deliver_webhook"
USER_AGENT = "Tempo-Webhooks/1"


class WebhookInputError(ValueError):
    """A request about webhooks that cannot be accepted; the message is for the user."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# --- Endpoints and secrets ------------------------------------------------------------


def _checked_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 500:
        raise WebhookInputError("The URL is too long (500 characters at most).")
    try:
        outbound.url_target(url)
    except outbound.UrlRefused as exc:
        raise WebhookInputError(str(exc)) from None
    return url


def _checked_events(event_types: list[str] | None) -> list[str]:
    unknown = sorted(set(event_types or []) - set(Event.values))
    if unknown:
        raise WebhookInputError(
            f"Unknown event type {', '.join(unknown)}; choose from {', '.join(Event.values)}."
        )
    return sorted(set(event_types or []))


def webhook_endpoint_create(
    *, owner: AbstractBaseUser, url: str, event_types: list[str] | None = None, description: str = ""
) -> WebhookEndpoint:
    """A new endpoint; its ``secret`` is shown to the owner this once."""
    endpoint = WebhookEndpoint.objects.create(
        owner=owner,
        url=_checked_url(url),
        event_types=_checked_events(event_types),
        description=description[:200],
        secret=new_secret(),
    )
    recipient_settings_changed()
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    is_active: bool | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    fields = []
    if is_active is not None and is_active != endpoint.is_active:
        if is_active:
            # The URL's host may have moved to a refused address since it was registered.
            _checked_url(endpoint.url)
            endpoint.consecutive_failures = 0
            endpoint.disabled_reason = ""
            fields += ["consecutive_failures", "disabled_reason"]
        endpoint.is_active = is_active
        fields.append("is_active")
    if event_types is not None:
        endpoint.event_types = _checked_events(event_types)
        fields.append("event_types")
    if description is not None:
        endpoint.description = description[:200]
        fields.append("description")
    if fields:
        endpoint.save(update_fields=fields)
        recipient_settings_changed()
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()
    recipient_settings_changed()


def signing_secret_get_or_create(*, user: AbstractBaseUser) -> str:
    """The account secret that signs webhooks to a job's own webhook_url."""
    secret, _ = SigningSecret.objects.get_or_create(user=user, defaults={"secret": new_secret()})
    return secret.secret


def signing_secret_rotate(*, user: AbstractBaseUser) -> str:
    """A new account signing secret (the old one stops signing at once); shown this once."""
    value = new_secret()
    SigningSecret.objects.update_or_create(user=user, defaults={"secret": value})
    return value


# --- Deliveries -----------------------------------------------------------------------


def webhook_delivery_queue(
    *, owner: AbstractBaseUser, event: str, data: dict, endpoint: WebhookEndpoint | None = None, url: str = ""
) -> WebhookDelivery:
    """Record one delivery (to an endpoint, or to a job's own URL) and enqueue its job."""
    payload = {"type": event, "timestamp": timezone.now().isoformat(), "data": data}
    delivery = WebhookDelivery.objects.create(
        owner=owner,
        endpoint=endpoint,
        url=endpoint.url if endpoint else url,
        event=event,
        message_id=f"msg_{uuid.uuid4().hex}",
        payload=payload,
    )
    _enqueue(delivery)
    return delivery


def _enqueue(delivery: WebhookDelivery) -> None:
    # The owner owns the job: their deliveries show in their jobs list, with attempts.
    job = jobs.enqueue(DELIVER_KIND, params={"delivery_id": delivery.pk}, owner=delivery.owner)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(job_uuid=job.uuid)
    delivery.job_uuid = job.uuid


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (same message id, so receivers can deduplicate)."""
    if delivery.endpoint is not None and not delivery.endpoint.is_active:
        raise WebhookInputError("The endpoint is disabled: enable it before redelivering.")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING)
    delivery.status = DeliveryStatus.PENDING
    _enqueue(delivery)
    return delivery


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt came to: ``succeeded``, ``retry`` (raise so the engine retries) or
    ``failed`` (final: no other attempt would do better)."""

    result: str
    message: str = ""


def _signed_headers(*, secret: str, message_id: str, body: str) -> dict[str, str]:
    timestamp = datetime.now(tz=UTC)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body),
    }


def _send(delivery: WebhookDelivery, secret: str) -> tuple[outbound.Answer | None, str, bool]:
    """One request: (answer or None, error text, whether the failure is worth retrying)."""
    try:
        target = outbound.url_target(delivery.url)
    except outbound.HostNotResolved as exc:
        return None, str(exc), True
    except outbound.UrlRefused as exc:
        return None, f"Refused: {exc}", False
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    headers = _signed_headers(secret=secret, message_id=delivery.message_id, body=body)
    try:
        answer = outbound.post(target, body=body.encode(), headers=headers, timeout=settings.WEBHOOK_TIMEOUT)
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500] or "network error", True
    if 200 <= answer.status < 300:
        return answer, "", False
    retry = answer.status >= 500 or answer.status in (408, 429)
    reason = http.client.responses.get(answer.status, "")
    return answer, f"HTTP {answer.status} {reason}".strip(), retry


def webhook_attempt(*, delivery_id: int, last_attempt: bool) -> DeliveryOutcome:
    """One attempt of a delivery (the job's body); records it in the delivery log."""
    delivery = WebhookDelivery.objects.select_related("endpoint", "owner").filter(pk=delivery_id).first()
    if delivery is None:
        return DeliveryOutcome("failed", "The delivery no longer exists (its endpoint was deleted).")
    if delivery.status == DeliveryStatus.SUCCEEDED:
        return DeliveryOutcome("succeeded", "already delivered")
    endpoint = delivery.endpoint
    if endpoint is not None and not endpoint.is_active:
        answer, error, retry = None, "Not sent: the endpoint is disabled.", False
    else:
        secret = endpoint.secret if endpoint else signing_secret_get_or_create(user=delivery.owner)
        answer, error, retry = _send(delivery, secret)
    succeeded = answer is not None and not error
    will_retry = retry and not last_attempt
    gone = answer is not None and answer.status == 410
    with transaction.atomic():
        number = delivery.attempts + 1
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            status_code=answer.status if answer else None,
            latency_ms=answer.latency_ms if answer else None,
            response_excerpt=answer.excerpt if answer else "",
            error=error[:500],
            will_retry=will_retry,
        )
        status = (
            DeliveryStatus.SUCCEEDED
            if succeeded
            else DeliveryStatus.RETRYING
            if will_retry
            else DeliveryStatus.FAILED
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=number,
            status=status,
            last_status_code=answer.status if answer else None,
            last_error=error[:500],
            delivered_at=timezone.now() if succeeded else None,
        )
        if endpoint is not None and endpoint.is_active:
            if succeeded:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
            elif gone:
                _endpoint_disable(endpoint, "The endpoint answered 410 Gone.")
            elif not will_retry:
                _endpoint_failed(endpoint)
    logger.info(
        "webhook %s %s to %s attempt %s: %s",
        delivery.message_id,
        delivery.event,
        delivery.url,
        number,
        "delivered" if succeeded else error + ("; will retry" if will_retry else ""),
    )
    if succeeded:
        return DeliveryOutcome("succeeded")
    return DeliveryOutcome("retry" if will_retry else "failed", error)


def _endpoint_failed(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint.refresh_from_db(fields=["consecutive_failures"])
    threshold = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    if endpoint.consecutive_failures >= threshold:
        _endpoint_disable(endpoint, f"{endpoint.consecutive_failures} deliveries in a row failed.")


def _endpoint_disable(endpoint: WebhookEndpoint, reason: str) -> None:
    # Another attempt may have disabled it a moment ago: tell the owner once.
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_reason=reason[:300]
    ):
        return
    recipient_settings_changed()
    endpoint.is_active = False
    endpoint.disabled_reason = reason
    # notify() fans out through this module too: imported here, where it is needed.
    from apps.notifications.services.notify import notify

    notify(
        users=[endpoint.owner],
        event=Event.WEBHOOK_DISABLED,
        title=f"Webhook endpoint disabled: {endpoint.url}"[:200],
        body=f"{reason} No more events are sent to it until you enable it again.",
        link=f"/notifications/webhooks/{endpoint.uuid}/",
        level=Level.ERROR,
        webhooks=False,
    )
