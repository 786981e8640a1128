"""Notification e-mails: rendered from templates, recorded, sent by a job with retries."""

import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.jobs import services as jobs
from apps.notifications.models import EmailMessage, EmailStatus

logger = logging.getLogger("apps.notifications")

SEND_EMAIL_KIND = "notifications.send_email"


def absolute(link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.NOTIFICATIONS_BASE_URL + "/" + link.lstrip("/")


@transaction.atomic
def email_queue(
    *,
    recipient: AbstractBaseUser,
    event: str,
    title: str,
    body: str = "",
    link: str = "",
    level: str = "info",
) -> EmailMessage | None:
    """Render and record one e-mail and enqueue its sending (None if the user has no address)."""
    if not recipient.email:
        return None
    context = {
        "user": recipient,
        "event": event,
        "title": title,
        "body": body,
        "link": absolute(link),
        "level": level,
        "preferences_url": absolute(reverse("notifications:preferences")),
    }
    subject = " ".join(render_to_string("notifications/email/subject.txt", context).split())[:200]
    message = EmailMessage.objects.create(
        recipient=recipient,
        to=recipient.email,
        event=event,
        subject=subject,
        text_body=render_to_string("notifications/email/body.txt", context),
        html_body=render_to_string("notifications/email/body.html", context),
    )
    # The recipient owns the job: it shows in their jobs list with its attempts.
    jobs.enqueue(SEND_EMAIL_KIND, params={"email_id": message.pk}, owner=recipient)
    return message


def email_send(*, email_id: int, last_attempt: bool) -> str:
    """Send one recorded e-mail through Django's backend (EMAIL_URL). Raises on failure, after
    recording it, so that the jobs engine retries; returns "sent", or why nothing was sent."""
    message = EmailMessage.objects.filter(pk=email_id).first()
    if message is None:
        return "gone"
    if message.status == EmailStatus.SENT:
        return "already sent"
    mail = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text_body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    if message.html_body:
        mail.attach_alternative(message.html_body, "text/html")
    try:
        mail.send(fail_silently=False)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        EmailMessage.objects.filter(pk=message.pk).update(
            attempts=message.attempts + 1,
            last_error=error,
            status=EmailStatus.FAILED if last_attempt else EmailStatus.RETRYING,
        )
        logger.warning("e-mail %s to %s failed: %s", message.pk, message.to, error)
        raise
    EmailMessage.objects.filter(pk=message.pk).update(
        attempts=message.attempts + 1, status=EmailStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent"
