"""Notifications: in-app messages, e-mails and signed webhook deliveries, with their records."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Level(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class Event(models.TextChoices):
    """Event types users can choose channels for and webhook endpoints can subscribe to.

    ``notify()`` accepts other names too (``alert.opened`` from monitoring); they follow
    the defaults of their level.
    """

    JOB_SUCCEEDED = "job.succeeded", "A job succeeded"
    JOB_DEAD = "job.dead", "A job failed for good"
    JOB_CANCELLED = "job.cancelled", "A job was cancelled"
    JOB_LONG = "job.long", "A long job ended (any outcome)"
    WEBHOOK_DISABLED = "webhook.disabled", "A webhook endpoint was disabled"
    ALERT_OPENED = "alert.opened", "An operator alert opened"


class Notification(models.Model):
    """One in-app message for one user."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.CharField(max_length=100)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notif_recipient_created_idx"),
            # The unread count: a small partial index, only unread rows.
            models.Index(
                fields=["recipient"], condition=Q(read_at__isnull=True), name="notif_recipient_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """A user's choice for one event type and channel; without a row, the default applies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=100, choices=Event.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    enabled = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "event", "channel"], name="notif_pref_user_event_channel")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.event} {self.channel}: {'on' if self.enabled else 'off'}"


class SigningSecret(models.Model):
    """A user's account signing secret: signs webhooks to a job's own ``webhook_url``.

    Kept readable (it must sign), shown to its owner once, replaced by rotating.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_signing_secret"
    )
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"signing secret of {self.user_id}"


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Standard Webhooks secret (whsec_<base64>), shown once when the endpoint is created.
    secret = models.CharField(max_length=100)
    # Event types this endpoint receives; empty means all of them.
    event_types = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    # Deliveries that failed for good in a row; reset by a success.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "is_active"], name="notif_endpoint_owner_idx")]

    def __str__(self) -> str:
        return self.url

    def receives(self, event: str) -> bool:
        return not self.event_types or event in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Failed, retry pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent to one URL: an endpoint's, or a job's own ``webhook_url``."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    url = models.URLField(max_length=500)
    event = models.CharField(max_length=100)
    # The Standard Webhooks message id: the same for every attempt and redelivery.
    message_id = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The job that runs this delivery's attempts now (redelivery starts a new one).
    job_uuid = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="notif_delivery_owner_idx"),
            models.Index(fields=["endpoint", "-created_at", "-id"], name="notif_delivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.url}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: the delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    will_retry = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery_id", "number", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} attempt {self.number}: {self.status_code or self.error}"


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RETRYING = "retrying", "Failed, retry pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EmailMessage(models.Model):
    """One notification e-mail and what became of it."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_emails"
    )
    to = models.EmailField()
    event = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    text_body = models.TextField()
    html_body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "-created_at"], name="notif_email_recipient_idx")]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to}"
