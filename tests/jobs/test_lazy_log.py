"""The job page paints without a long log and loads it as it scrolls into view."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.jobs.models import Job, Status
from apps.jobs.views import LOG_LINES_INLINE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PLACEHOLDER = re.compile(
    r'<div id="job-log-panel" class="job-log-lazy" hx-get="([^"]+)" hx-trigger="intersect once" '
    r'hx-swap="outerHTML">'
)


def finished_job(owner, *, lines: int) -> Job:
    return Job.objects.create(
        kind="diagnostics.noop",
        owner=owner,
        timeout=30,
        status=Status.SUCCEEDED,
        finished_at=timezone.now(),
        log=[f"step {n} done" for n in range(lines)],
    )


def test_a_long_log_is_left_to_a_placeholder_that_fetches_it(alice_client, alice):
    job = finished_job(alice, lines=LOG_LINES_INLINE + 30)
    page = alice_client.get(reverse("jobs:detail", args=[job.uuid])).content.decode()
    assert PLACEHOLDER.findall(page) == [reverse("jobs:log", args=[job.uuid])]
    assert "step 0 done" not in page and 'id="job-log"' not in page
    assert "?log=all" in page  # the link for a browser without JS

    fragment = alice_client.get(reverse("jobs:log", args=[job.uuid]), **HTMX).content.decode()
    assert fragment.startswith('<div id="job-log-panel">')
    assert (
        'id="job-log"' in fragment
        and "step 0 done" in fragment
        and f"step {LOG_LINES_INLINE + 29} done" in fragment
    )
    assert "<html" not in fragment


def test_a_short_log_and_the_link_without_js_show_the_log_in_the_page(alice_client, alice):
    short = finished_job(alice, lines=3)
    page = alice_client.get(reverse("jobs:detail", args=[short.uuid])).content.decode()
    assert "step 2 done" in page and not PLACEHOLDER.search(page)
    long = finished_job(alice, lines=LOG_LINES_INLINE + 1)
    page = alice_client.get(reverse("jobs:detail", args=[long.uuid]) + "?log=all").content.decode()
    assert f"step {LOG_LINES_INLINE} done" in page and not PLACEHOLDER.search(page)


def test_the_poll_of_a_running_job_renders_its_log_inline(alice_client, alice):
    job = finished_job(alice, lines=LOG_LINES_INLINE + 5)
    Job.objects.filter(pk=job.pk).update(status=Status.RUNNING, finished_at=None)
    fragment = alice_client.get(reverse("jobs:detail", args=[job.uuid]), **HTMX).content.decode()
    assert 'id="job-log"' in fragment and not PLACEHOLDER.search(fragment)


def test_other_user_gets_404_for_a_jobs_log(client, alice, bob):
    job = finished_job(alice, lines=LOG_LINES_INLINE + 1)
    client.force_login(bob)
    response = client.get(reverse("jobs:log", args=[job.uuid]), **HTMX)
    assert response.status_code == 404
    assert "step 0 done" not in response.content.decode()


def test_staff_sees_anyones_job_log(ops_client, alice):
    job = finished_job(alice, lines=LOG_LINES_INLINE + 1)
    assert "step 0 done" in ops_client.get(reverse("jobs:log", args=[job.uuid]), **HTMX).content.decode()


def test_anonymous_is_sent_to_log_in_for_a_log(client, alice):
    job = finished_job(alice, lines=LOG_LINES_INLINE + 1)
    response = client.get(reverse("jobs:log", args=[job.uuid]), **HTMX)
    assert response["HX-Redirect"].startswith(reverse("login"))
    assert "step 0 done" not in response.content.decode()


def test_the_log_costs_three_queries(alice_client, alice, django_assert_max_num_queries):
    job = finished_job(alice, lines=LOG_LINES_INLINE + 1)
    # Session, user, the job with its owner.
    with django_assert_max_num_queries(3):
        response = alice_client.get(reverse("jobs:log", args=[job.uuid]), **HTMX)
    assert "step 0 done" in response.content.decode()
