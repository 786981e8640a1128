"""A failed job's owner is told in the app and by e-mail, through a real SMTP server on
loopback (aiosmtpd); another user gets neither."""

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse

from apps.jobs import services as jobs
from apps.jobs.models import Job, Status
from apps.notifications import services
from apps.notifications.models import EmailMessage, EmailStatus, Notification
from tests.notifications.conftest import run_job, run_until_final

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("published", "quiet_heartbeat", "loopback_only"),
]


class Inbox:
    """aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    try:
        yield inbox
    finally:
        controller.stop()


def email_job(message: EmailMessage) -> Job:
    return Job.objects.get(kind="notifications.send_email", params={"email_id": message.pk})


def test_dead_jobs_owner_gets_a_notification_and_an_email_another_user_neither(
    alice, bob, smtp_server, client
):
    job = run_until_final(jobs.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))
    assert job.status == Status.DEAD

    notification = Notification.objects.get(recipient=alice)
    assert notification.event == "job.dead" and notification.level == "error"
    assert notification.link == reverse("jobs:detail", args=[job.uuid])
    message = EmailMessage.objects.get()
    assert message.recipient == alice
    sent = run_job(email_job(message))
    assert sent.status == Status.SUCCEEDED and sent.owner == alice

    [envelope] = smtp_server.messages
    assert envelope.rcpt_tos == ["alice@example.com"]
    received = message_from_bytes(envelope.content, policy=policy.default)
    assert "diagnostics.fail failed" in received["Subject"]
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Failing on purpose" in text and f"/jobs/{job.uuid}/" in text
    assert f"/jobs/{job.uuid}/" in html
    message.refresh_from_db()
    assert message.status == EmailStatus.SENT and message.attempts == 1 and message.sent_at

    assert not Notification.objects.filter(recipient=bob).exists()
    assert not any("bob@example.com" in e.rcpt_tos for e in smtp_server.messages)
    client.force_login(bob)
    page = client.get(reverse("notifications:list")).content.decode()
    assert "diagnostics.fail" not in page


def test_succeeded_short_job_is_not_emailed_by_default(alice, smtp_server):
    run_job(jobs.enqueue("diagnostics.noop", owner=alice))
    assert Notification.objects.filter(recipient=alice, event="job.succeeded").exists()
    assert not EmailMessage.objects.exists()


def test_long_job_is_emailed_when_it_succeeds(alice, smtp_server, settings):
    settings.NOTIFICATIONS_LONG_JOB_SECONDS = 0
    run_job(jobs.enqueue("diagnostics.noop", owner=alice))
    assert EmailMessage.objects.get().event == "job.succeeded"


def test_email_for_failures_can_be_turned_off(alice, smtp_server):
    services.preferences_set(user=alice, choices={("job.dead", "email"): False})
    run_until_final(jobs.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))
    assert Notification.objects.filter(recipient=alice, event="job.dead").exists()
    assert not EmailMessage.objects.exists()


def test_in_app_can_be_turned_off_while_email_stays(alice, smtp_server):
    services.preferences_set(user=alice, choices={("job.dead", "in_app"): False})
    run_until_final(jobs.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))
    assert not Notification.objects.exists()
    assert EmailMessage.objects.filter(recipient=alice).exists()


def test_unreachable_mail_server_is_retried_and_recorded(alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    message = services.email_queue(recipient=alice, event="job.dead", title="Something failed")

    job = run_job(email_job(message))

    assert job.status == Status.FAILED and job.run_at is not None
    message.refresh_from_db()
    assert message.status == EmailStatus.RETRYING and message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error


def test_staff_alert_reaches_every_staff_user_only(alice, ops, smtp_server):
    services.notify(staff=True, event="alert.opened", title="p95 above 2 s", level="error")
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["ops"]
    run_job(email_job(EmailMessage.objects.get(recipient=ops)))
    assert [e.rcpt_tos for e in smtp_server.messages] == [["ops@example.com"]]
