"""Job kinds that deliver notifications: every e-mail and every webhook delivery is a job,
so the jobs engine retries it with backoff and records its attempts."""

from pydantic import BaseModel, ConfigDict

from apps.jobs.errors import PermanentJobError
from apps.jobs.models import Queue
from apps.jobs.registry import job
from apps.notifications import services


class EmailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email_id: int


class DeliveryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery_id: int


def _last_attempt(ctx) -> bool:
    return ctx.attempt >= ctx.job.max_attempts


@job(
    "notifications.send_email",
    queue=Queue.DEFAULT,
    max_attempts=5,
    timeout=120,
    params=EmailParams,
    retry_backoff=30.0,
    retry_backoff_max=1800.0,
)
def send_email(ctx, params: EmailParams) -> dict:
    """Sends one notification e-mail (retried with backoff while the mail server fails)."""
    return {"email": services.email_send(email_id=params.email_id, last_attempt=_last_attempt(ctx))}


class WebhookRetry(Exception):
    """This attempt failed in a way another may not (network error, 5xx, 429)."""


@job(
    "notifications.deliver_webhook",
    queue=Queue.DEFAULT,
    max_attempts=6,
    timeout=120,
    params=DeliveryParams,
    retry_backoff=10.0,
    retry_backoff_max=3600.0,
)
def deliver_webhook(ctx, params: DeliveryParams) -> dict:
    """Posts one signed webhook; retries network errors, 5xx and 429, not other answers."""
    outcome = services.webhook_attempt(delivery_id=params.delivery_id, last_attempt=_last_attempt(ctx))
    if outcome.result == "retry":
        raise WebhookRetry(outcome.message)
    if outcome.result == "failed":
        raise PermanentJobError(outcome.message)
    return {"delivered": True}
