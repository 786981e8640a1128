"""Webhook endpoints, account signing secrets, and signed deliveries sent by jobs.

A delivery is a row (the log) plus a job ("notifications.deliver_webhook") whose every
attempt calls ``webhook_attempt``. Network errors, 5xx, 408 and 429 are retried by the jobs
engine with backoff; any other answer is final. A 410 disables the endpoint at once, and
``WEBHOOK_DISABLE_AFTER_FAILURES`` deliveries failing in a row disable it too; its owner
is told in the app and by e-mail.

What a user sends by hand (a redelivery, a test event) is bounded twice: a delivery is
pending while its job waits or runs (queued, scheduled, running, failed with a retry due)
and cannot be sent again until it has finished, nor can an endpoint get a second test
event while one is pending (409); and each user gets ``WEBHOOK_REDELIVER_RATE_LIMIT`` such
sends a minute (429).
"""

import base64
import http.client
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.core import outbound
from apps.core.ratelimit import rate_limit_hit
from apps.jobs.models import Job, Status
from apps.notifications.errors import WebhookInputError, WebhookPending, WebhookRateLimited
from apps.notifications.models import (
    DeliveryStatus,
    Event,
    Level,
    SigningSecret,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.notifications.services.deliveries import (
    delivery_job_enqueue,
    delivery_pending_job,
    webhook_delivery_queue,
)
from apps.notifications.services.inapp import recipient_settings_changed
from apps.notifications.services.notify import notify

logger = logging.getLogger("apps.notifications")

USER_AGENT = "Tempo-Webhooks/1"
# The event type of "send a test event": not subscribable, sent whatever the endpoint's types.
TEST_EVENT = "webhook.test"
MANUAL_SEND_SCOPE = "webhook-manual-send"
MANUAL_SEND_WINDOW = 60
# Bounds of what users write, from the columns that store it.
DESCRIPTION_MAX = WebhookEndpoint._meta.get_field("description").max_length
URL_MAX = WebhookEndpoint._meta.get_field("url").max_length


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# --- Endpoints and secrets ------------------------------------------------------------


def _checked_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > URL_MAX:
        raise WebhookInputError(f"The URL is too long ({URL_MAX} characters at most).")
    try:
        outbound.url_target(url)
    except outbound.UrlRefused as exc:
        raise WebhookInputError(str(exc)) from None
    return url


def _checked_events(event_types: list[str] | None) -> list[str]:
    unknown = sorted(set(event_types or []) - set(Event.values))
    if unknown:
        shown = ", ".join(repr(name[:100]) for name in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise WebhookInputError(f"Unknown event type {shown}; choose from {', '.join(Event.values)}.")
    return sorted(set(event_types or []))


def _checked_description(description: str) -> str:
    if len(description) > DESCRIPTION_MAX:
        raise WebhookInputError(
            f"The description is too long ({len(description):,} characters; {DESCRIPTION_MAX} at most)."
        )
    return description


def webhook_endpoint_create(
    *, owner: AbstractBaseUser, url: str, event_types: list[str] | None = None, description: str = ""
) -> WebhookEndpoint:
    """A new endpoint; its ``secret`` is shown to the owner this once."""
    endpoint = WebhookEndpoint.objects.create(
        owner=owner,
        url=_checked_url(url),
        event_types=_checked_events(event_types),
        description=_checked_description(description),
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
        endpoint.description = _checked_description(description)
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


def _manual_send_counted(user: AbstractBaseUser | None) -> None:
    """Count one send a user asked for by hand; WebhookRateLimited past the limit."""
    if user is None:
        return
    limit = settings.WEBHOOK_REDELIVER_RATE_LIMIT
    hit = rate_limit_hit(scope=MANUAL_SEND_SCOPE, key=str(user.pk), limit=limit, window=MANUAL_SEND_WINDOW)
    if not hit.allowed:
        raise WebhookRateLimited(
            f"Too many redeliveries and test events: {limit} a minute at most. "
            f"Try again in {hit.retry_after} s.",
            retry_after=hit.retry_after,
        )


def _pending_message(what: str, job: Job) -> str:
    if job.status == Status.RUNNING:
        state = "it is being sent now"
    elif job.status == Status.FAILED and job.run_at is not None:
        state = f"attempt {job.attempts + 1} is due at {job.run_at:%Y-%m-%d %H:%M:%S} UTC"
    else:
        state = "it is queued"
    return f"{what} is already pending ({state}): wait until it has finished."


def webhook_redeliver(*, delivery: WebhookDelivery, by: AbstractBaseUser | None = None) -> WebhookDelivery:
    """Send a delivery again (same message id, so receivers can deduplicate).

    Refused while the delivery is pending (WebhookPending), for a disabled endpoint, and
    past the user's rate limit (WebhookRateLimited; ``by`` None: not counted). The row is
    locked while it is judged, so two calls at once cannot both queue a job.
    """
    _manual_send_counted(by)
    with transaction.atomic():
        locked = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
        if locked.endpoint is not None and not locked.endpoint.is_active:
            raise WebhookInputError("The endpoint is disabled: enable it before redelivering.")
        pending = delivery_pending_job(locked)
        if pending is not None:
            raise WebhookPending(_pending_message("This delivery", pending))
        WebhookDelivery.objects.filter(pk=locked.pk).update(status=DeliveryStatus.PENDING)
        locked.status = DeliveryStatus.PENDING
        delivery_job_enqueue(locked)
    delivery.status, delivery.job_uuid = locked.status, locked.job_uuid
    return delivery


def webhook_endpoint_test(
    *, endpoint: WebhookEndpoint, by: AbstractBaseUser | None = None
) -> WebhookDelivery:
    """Send a test event (``webhook.test``) to an endpoint, whatever event types it takes.

    One at a time per endpoint (WebhookPending while one is pending), within the same rate
    limit as redeliveries. The endpoint's row is locked while it is judged.
    """
    _manual_send_counted(by)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().select_related("owner").get(pk=endpoint.pk)
        if not locked.is_active:
            raise WebhookInputError("The endpoint is disabled: enable it before sending a test event.")
        for previous in WebhookDelivery.objects.filter(
            endpoint=locked, event=TEST_EVENT, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
        ).only("job_uuid"):
            pending = delivery_pending_job(previous)
            if pending is not None:
                raise WebhookPending(_pending_message("A test event to this endpoint", pending))
        return webhook_delivery_queue(
            owner=locked.owner,
            event=TEST_EVENT,
            endpoint=locked,
            data={
                "endpoint": str(locked.uuid),
                "message": "A test event from Tempo: this endpoint receives webhooks.",
            },
        )


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
    # A test event is tried once: its outcome is what the user waits to see.
    is_test = delivery.event == TEST_EVENT
    will_retry = retry and not last_attempt and not is_test
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
        # Test events say how the endpoint answers; they do not count towards disabling it.
        if endpoint is not None and endpoint.is_active and not is_test:
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
    notify(
        users=[endpoint.owner],
        event=Event.WEBHOOK_DISABLED,
        title=f"Webhook endpoint disabled: {endpoint.url}"[:200],
        body=f"{reason} No more events are sent to it until you enable it again.",
        link=reverse("notifications:endpoint", args=[endpoint.uuid]),
        level=Level.ERROR,
        webhooks=False,
    )
