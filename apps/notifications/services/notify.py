"""One event to its recipients, on the channels each chose; the jobs app's job_finished."""

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from apps.jobs.models import Job, Status
from apps.notifications import selectors
from apps.notifications.models import Channel, Event, Level, Notification, WebhookEndpoint
from apps.notifications.services.deliveries import webhook_delivery_job_ended, webhook_delivery_queue
from apps.notifications.services.emails import absolute, email_queue
from apps.notifications.services.inapp import notification_create

logger = logging.getLogger("apps.notifications")

# Job kinds whose end is not news: the notification jobs themselves (telling a user that
# their e-mail was sent would send another e-mail, and so on).
QUIET_KIND_PREFIX = "notifications."


def notify(
    *,
    users: Iterable[AbstractBaseUser] | None = None,
    staff: bool = False,
    event: str,
    title: str,
    body: str = "",
    link: str = "",
    level: str = Level.INFO,
    data: dict | None = None,
    webhooks: bool = True,
    long_job: bool = False,
) -> list[Notification]:
    """Tell ``users`` (and, with ``staff=True``, every active staff user) about ``event``.

    Each recipient gets it in the app, by e-mail and at their webhook endpoints subscribed
    to the event, as their preferences say (defaults: in-app always, e-mail for failures).
    ``data`` is the webhook payload's ``data`` (default: title, body, link, level).
    ``long_job`` also enables what the user chose for long jobs. Returns the in-app rows.
    """
    if level not in Level.values:
        raise ValueError(f"level must be one of {', '.join(Level.values)}, not {level!r}")
    recipients: dict[int, AbstractBaseUser] = {user.pk: user for user in users or [] if user is not None}
    if staff:
        for user in get_user_model().objects.filter(is_staff=True, is_active=True):
            recipients.setdefault(user.pk, user)
    payload = (
        data if data is not None else {"title": title, "body": body, "link": absolute(link), "level": level}
    )
    created = []
    for user in recipients.values():
        notification = _notify_one(
            user_id=user.pk,
            user=lambda user=user: user,
            event=event,
            title=title,
            body=body,
            link=link,
            level=level,
            payload=lambda: payload,
            webhooks=webhooks,
            long_job=long_job,
        )
        if notification is not None:
            created.append(notification)
    return created


def _notify_one(
    *,
    user_id: int,
    user: Callable[[], AbstractBaseUser],
    event: str,
    title: str,
    body: str,
    link: str,
    level: str,
    payload: Callable[[], dict],
    webhooks: bool,
    long_job: bool,
) -> Notification | None:
    """One recipient on the channels they chose. ``user`` and ``payload`` are computed only
    when a channel needs them (e-mail, webhooks): the common case, an in-app notification
    with default preferences, reads the cached settings and writes one row.
    """
    recipient_settings = selectors.recipient_settings_cached(user_id=user_id)
    preferences = recipient_settings.preferences

    def wants(channel: str) -> bool:
        on = selectors.channel_enabled(preferences=preferences, event=event, channel=channel, level=level)
        if long_job:
            on = on or preferences[(Event.JOB_LONG, channel)]
        return on

    notification = None
    if wants(Channel.IN_APP):
        notification = notification_create(
            recipient_id=user_id, event=event, title=title, body=body, link=link, level=level
        )
    if wants(Channel.EMAIL):
        email_queue(recipient=user(), event=event, title=title, body=body, link=link, level=level)
    if webhooks and wants(Channel.WEBHOOK) and recipient_settings.endpoint_receives(event):
        for endpoint in WebhookEndpoint.objects.filter(owner_id=user_id, is_active=True):
            if endpoint.receives(event):
                webhook_delivery_queue(owner=user(), event=event, data=payload(), endpoint=endpoint)
    return notification


def _job_data(job: Job) -> dict:
    return {
        "id": str(job.uuid),
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
        "result": job.result,
        "url": absolute(reverse("jobs:detail", args=[job.uuid])),
    }


def _ran_long(job: Job) -> bool:
    if job.started_at is None or job.finished_at is None:
        return False
    return (job.finished_at - job.started_at).total_seconds() >= settings.NOTIFICATIONS_LONG_JOB_SECONDS


def job_finished_notify(*, job: Job, status: str) -> list[Notification]:
    """A job ended: its owner is told (per preferences), and its own webhook_url gets a
    delivery signed with the owner's account secret. Jobs without an owner tell nobody;
    a delivery job that was cancelled or died marks its delivery failed."""
    if job.kind.startswith(QUIET_KIND_PREFIX):
        webhook_delivery_job_ended(job=job, status=status)
        return []
    if job.owner_id is None:
        return []
    event = f"job.{status}"
    if status == Status.SUCCEEDED:
        title, level, body = f"Job {job.kind} succeeded", Level.SUCCESS, ""
    elif status == Status.DEAD:
        title, level = f"Job {job.kind} failed", Level.ERROR
        body = f"It failed after {job.attempts} attempt{'s' if job.attempts != 1 else ''}: {job.error}"
    elif status == Status.CANCELLED:
        title, level, body = f"Job {job.kind} was cancelled", Level.WARNING, ""
    else:
        return []
    # The owner is loaded (job.owner, one query) only if an e-mail or a webhook needs it.
    created = _notify_one(
        user_id=job.owner_id,
        user=lambda: job.owner,
        event=event,
        title=title,
        body=body,
        link=reverse("jobs:detail", args=[job.uuid]),
        level=level,
        payload=lambda: _job_data(job),
        webhooks=True,
        long_job=_ran_long(job),
    )
    if job.webhook_url:
        webhook_delivery_queue(owner=job.owner, event=event, data=_job_data(job), url=job.webhook_url)
    return [created] if created is not None else []
