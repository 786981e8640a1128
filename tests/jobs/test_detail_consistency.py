"""A job's page agrees with itself: the running attempt is listed while it runs, and the
messages after cancel and retry say what happened, never a state the page has left."""

import pytest
from django.urls import reverse

from apps.jobs import services
from apps.jobs.models import Job, Status

pytestmark = pytest.mark.django_db


def running_job(owner) -> Job:
    job = services.enqueue("diagnostics.sleep", params={"seconds": 0, "steps": 4}, owner=owner)
    services.job_claim(job_id=job.pk, worker="vm:4242")
    return Job.objects.get(pk=job.pk)


def test_running_attempt_is_listed_under_attempts(alice_client, alice):
    job = running_job(alice)

    page = alice_client.get(reverse("jobs:detail", args=[job.uuid])).content.decode()

    assert "Not started yet" not in page
    row = page.split('<tr id="attempt-running">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">1</td>' in row
    assert "<td>Running</td>" in row
    assert "vm:4242" in row


def test_queued_job_has_no_attempts_yet(alice_client, alice):
    job = services.enqueue("diagnostics.sleep", params={"seconds": 0}, owner=alice)

    page = alice_client.get(reverse("jobs:detail", args=[job.uuid])).content.decode()

    assert "Not started yet" in page
    assert "attempt-running" not in page


def test_cancel_message_stays_true_once_the_job_has_been_cancelled(alice_client, alice):
    job = running_job(alice)
    url = reverse("jobs:detail", args=[job.uuid])
    alice_client.post(reverse("jobs:cancel", args=[job.uuid]), {"next": url})
    # The worker stopped the job before the browser followed the redirect.
    services.job_cancel(job=Job.objects.get(pk=job.pk))
    Job.objects.filter(pk=job.pk).update(status=Status.CANCELLED)

    page = alice_client.get(url).content.decode()

    assert "Cancel requested." in page
    assert "stops at its next progress report" not in page
    assert "Cancelled" in page


def test_cancel_of_a_running_job_explains_the_wait_while_it_runs(alice_client, alice):
    job = running_job(alice)
    url = reverse("jobs:detail", args=[job.uuid])

    page = alice_client.post(reverse("jobs:cancel", args=[job.uuid]), {"next": url}, follow=True)

    assert "Cancel requested." in page.text
    assert 'id="job-cancel-requested"' in page.text
    assert "the job stops at its next progress report" in page.text


def test_retry_message_does_not_name_a_state(ops_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    Job.objects.filter(pk=job.pk).update(status=Status.DEAD, attempts=1)

    page = ops_client.post(reverse("jobs:retry", args=[job.uuid]), follow=True)

    assert "Job submitted again." in page.text
    assert "queued again" not in page.text
