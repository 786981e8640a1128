"""Job kinds that deliver notifications: every e-mail and every webhook delivery is a job,
so the jobs engine retries it with backoff and records its attempts."""

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from apps.jobs.errors import PermanentJobError
from apps.jobs.registry import Queue, job
from apps.notifications import services
from apps.notifications.services.deliveries import DELIVER_KIND
from apps.notifications.services.emails import SEND_EMAIL_KIND


class EmailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email_id: int


class DeliveryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery_id: int


def _sending_job(
    name: str, *, params: type[BaseModel], max_attempts: int, backoff: tuple[float, float]
) -> Callable[[Callable], Callable]:
    """A kind that sends one recorded message: on the default queue, two minutes an
    attempt, retried with backoff (first delay, longest delay) while sending fails."""
    first, longest = backoff
    return job(
        name,
        queue=Queue.DEFAULT,
        max_attempts=max_attempts,
        timeout=120,
        params=params,
        retry_backoff=first,
        retry_backoff_max=longest,
    )


def _last_attempt(ctx) -> bool:
    return ctx.attempt >= ctx.job.max_attempts


@_sending_job(SEND_EMAIL_KIND, params=EmailParams, max_attempts=5, backoff=(30.0, 1800.0))
def send_email(ctx, params: EmailParams) -> dict:
    """Sends one notification e-mail (retried with backoff while the mail server fails)."""
    return {"email": services.email_send(email_id=params.email_id, last_attempt=_last_attempt(ctx))}


class WebhookRetry(Exception):
    """This attempt failed in a way another may not (network error, 5xx, 429)."""


@_sending_job(DELIVER_KIND, params=DeliveryParams, max_attempts=6, backoff=(10.0, 3600.0))
def deliver_webhook(ctx, params: DeliveryParams) -> dict:
    """Posts one signed webhook; retries network errors, 5xx and 429, not other answers."""
    outcome = services.webhook_attempt(delivery_id=params.delivery_id, last_attempt=_last_attempt(ctx))
    if outcome.result == "retry":
        raise WebhookRetry(outcome.message)
    if outcome.result == "failed":
        raise PermanentJobError(outcome.message)
    return {"delivered": True}
