"""Every write of the notifications app (other apps call ``notify``).

- ``inapp``: in-app notifications, read marks, the cached bell, preferences.
- ``emails``: notification e-mails, recorded and sent by a job.
- ``deliveries``: webhook deliveries recorded and queued as jobs (a leaf: notify and
  webhooks both build on it).
- ``webhooks``: endpoints, signing secrets, the signed attempts of deliveries.
- ``notify``: one event to its recipients on the channels they chose; job events.
"""

from apps.notifications.errors import WebhookInputError, WebhookPending, WebhookRateLimited
from apps.notifications.services.deliveries import (
    delivery_pending_job,
    webhook_delivery_job_ended,
    webhook_delivery_queue,
)
from apps.notifications.services.emails import email_queue, email_send
from apps.notifications.services.inapp import (
    notification_create,
    notification_mark_read,
    notifications_create,
    notifications_mark_all_read,
    preferences_set,
)
from apps.notifications.services.notify import job_finished_notify, jobs_finished_notify, notify
from apps.notifications.services.webhooks import (
    DESCRIPTION_MAX,
    TEST_EVENT,
    URL_MAX,
    DeliveryOutcome,
    signing_secret_rotate,
    webhook_attempt,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_test,
    webhook_endpoint_update,
    webhook_redeliver,
)

__all__ = [
    "DESCRIPTION_MAX",
    "TEST_EVENT",
    "URL_MAX",
    "DeliveryOutcome",
    "WebhookInputError",
    "WebhookPending",
    "WebhookRateLimited",
    "delivery_pending_job",
    "email_queue",
    "email_send",
    "job_finished_notify",
    "jobs_finished_notify",
    "notification_create",
    "notification_mark_read",
    "notifications_create",
    "notifications_mark_all_read",
    "notify",
    "preferences_set",
    "signing_secret_rotate",
    "webhook_attempt",
    "webhook_delivery_job_ended",
    "webhook_delivery_queue",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_test",
    "webhook_endpoint_update",
    "webhook_redeliver",
]
