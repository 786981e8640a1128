"""One event to its recipients, on the channels each chose; the jobs app's job_finished
(one job, or several that ended together)."""

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
from apps.notifications.services.inapp import notification_create, notifications_create

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
    recipient_settings: selectors.RecipientSettings | None = None,
    in_app: list[dict] | None = None,
) -> Notification | None:
    """One recipient on the channels they chose. ``user`` and ``payload`` are computed only
    when a channel needs them (e-mail, webhooks): the common case, an in-app notification
    with default preferences, reads the cached settings and writes one row.

    With ``in_app`` (a list), the in-app notification is appended to it instead of being
    written, for the caller to write with others (``notifications_create``).
    """
    if recipient_settings is None:
        recipient_settings = selectors.recipient_settings_cached(user_id=user_id)
    preferences = recipient_settings.preferences

    def wants(channel: str) -> bool:
        on = selectors.channel_enabled(preferences=preferences, event=event, channel=channel, level=level)
        if long_job:
            on = on or preferences[(Event.JOB_LONG, channel)]
        return on

    notification = None
    if wants(Channel.IN_APP):
        message = {"recipient_id": user_id, "event": event, "title": title, "body": body, "link": link}
        if in_app is not None:
            in_app.append({**message, "level": level})
        else:
            notification = notification_create(**message, level=level)
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


def _job_message(job: Job, status: str) -> tuple[str, str, str] | None:
    """The title, level and body telling that ``job`` ended with ``status``; None: no news."""
    if status == Status.SUCCEEDED:
        return f"Job {job.kind} succeeded", Level.SUCCESS, ""
    if status == Status.DEAD:
        body = f"It failed after {job.attempts} attempt{'s' if job.attempts != 1 else ''}: {job.error}"
        return f"Job {job.kind} failed", Level.ERROR, body
    if status == Status.CANCELLED:
        return f"Job {job.kind} was cancelled", Level.WARNING, ""
    return None


def _told_of_alone(job: Job, status: str) -> bool:
    """Ends nobody is told of together: the notification jobs' own, ownerless, not news."""
    return job.kind.startswith(QUIET_KIND_PREFIX) or job.owner_id is None or _job_message(job, status) is None


def job_finished_notify(
    *,
    job: Job,
    status: str,
    recipient_settings: selectors.RecipientSettings | None = None,
    in_app: list[dict] | None = None,
) -> list[Notification]:
    """A job ended: its owner is told (per preferences), and its own webhook_url gets a
    delivery signed with the owner's account secret. Jobs without an owner tell nobody;
    a delivery job that was cancelled or died marks its delivery failed.

    ``recipient_settings`` and ``in_app`` are jobs_finished_notify's: the owner's settings
    read once for several jobs, and a list gathering the in-app notification.
    """
    if job.kind.startswith(QUIET_KIND_PREFIX):
        webhook_delivery_job_ended(job=job, status=status)
        return []
    message = _job_message(job, status)
    if job.owner_id is None or message is None:
        return []
    title, level, body = message
    event = f"job.{status}"
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
        recipient_settings=recipient_settings,
        in_app=in_app,
    )
    if job.webhook_url:
        webhook_delivery_queue(owner=job.owner, event=event, data=_job_data(job), url=job.webhook_url)
    return [created] if created is not None else []


def jobs_finished_notify(*, ends: list[tuple[Job, str]]) -> list[Notification]:
    """Jobs that ended together (one write of a worker): each is told as job_finished_notify
    tells it, except in the app, where an owner told of several ends of one status gets one
    notification ("12 jobs succeeded", linking to their jobs) instead of one each. E-mails
    and webhooks stay one per job. All in-app rows are one INSERT, and each owner's bell
    is refreshed once (one query for all owners on PostgreSQL).
    """
    created: list[Notification] = []
    told: dict[tuple[int, str], list[dict]] = {}
    kinds: dict[tuple[int, str], set[str]] = {}
    settings_of: dict[int, selectors.RecipientSettings] = {}
    for job, status in ends:
        if _told_of_alone(job, status):
            created += job_finished_notify(job=job, status=status)
            continue
        if job.owner_id not in settings_of:
            settings_of[job.owner_id] = selectors.recipient_settings_cached(user_id=job.owner_id)
        key = (job.owner_id, status)
        group = told.setdefault(key, [])
        before = len(group)
        job_finished_notify(
            job=job, status=status, recipient_settings=settings_of[job.owner_id], in_app=group
        )
        if len(group) > before:
            kinds.setdefault(key, set()).add(job.kind)
    rows = [
        group[0] if len(group) == 1 else _together(key[1], group, kinds[key])
        for key, group in told.items()
        if group
    ]
    return created + notifications_create(rows=rows)


def _together(status: str, group: list[dict], kinds: set[str]) -> dict:
    """One in-app notification for several ends of one owner's jobs with the same status."""
    count = len(group)
    verb = {Status.SUCCEEDED: "succeeded", Status.DEAD: "failed", Status.CANCELLED: "were cancelled"}[status]
    title = f"{count} {next(iter(kinds))} jobs {verb}" if len(kinds) == 1 else f"{count} jobs {verb}"
    bodies = [row["body"] for row in group if row["body"]]
    body = "\n".join(bodies[:5]) + (f"\n… and {len(bodies) - 5} more" if len(bodies) > 5 else "")
    return {**group[0], "title": title, "body": body, "link": reverse("jobs:list")}
