"""The job pages: /jobs/ and /jobs/<uuid>/, their htmx polling, cancel and retry."""

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.jobs import runner, services
from apps.jobs.models import Job, Status
from apps.jobs.views import JOBS_PER_PAGE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# runner.execute() reopens its database connection, as in a worker: the test's writes
# must be committed for that (PostgreSQL), so these tests run outside a transaction.
runs_jobs = pytest.mark.django_db(transaction=True)


def sleep_job(owner, **params) -> Job:
    return services.enqueue("diagnostics.sleep", params={"seconds": 0, "steps": 4, **params}, owner=owner)


def detail_url(job: Job) -> str:
    return reverse("jobs:detail", args=[job.uuid])


def poll_url(*jobs: Job) -> str:
    return reverse("jobs:poll") + "?ids=" + ",".join(str(job.uuid) for job in jobs)


def running(job: Job, *, done: int = 0, total: int = 4, message: str = "") -> Job:
    """Put a queued job in the state a worker gives it mid-run."""
    claimed = services.job_claim(job_id=job.pk, worker="test:1")
    services.job_heartbeat(job_id=job.pk, attempt=claimed.attempts, progress=(done, total, message))
    return Job.objects.get(pk=job.pk)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Access --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["list", "poll"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(f"jobs:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=/jobs/")


def test_anonymous_is_sent_to_login_from_a_job_page(client, alice):
    job = sleep_job(alice)
    response = client.get(detail_url(job))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={detail_url(job)}"


def test_expired_session_poll_sends_the_whole_page_to_login(client, alice):
    job = sleep_job(alice)
    response = client.get(detail_url(job), HTTP_HX_CURRENT_URL=f"http://testserver{detail_url(job)}", **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={detail_url(job)}"
    assert response.content == b""


def test_owner_sees_own_jobs_only(alice_client, alice, bob):
    mine = sleep_job(alice)
    theirs = sleep_job(bob)
    response = alice_client.get(reverse("jobs:list"))
    assert response.status_code == 200
    assert str(mine.uuid) in response.text
    assert str(theirs.uuid) not in response.text
    assert "<th>Owner</th>" not in response.text


def test_staff_sees_all_jobs_with_their_owners(ops_client, alice, bob):
    jobs = [sleep_job(alice), sleep_job(bob)]
    system = services.enqueue("diagnostics.noop")
    response = ops_client.get(reverse("jobs:list"))
    assert all(str(job.uuid) in response.text for job in jobs)
    assert "<th>Owner</th>" in response.text
    assert "<td>alice</td>" in response.text
    assert "<td>bob</td>" in response.text
    # The system's own jobs have a list of their own (the scope filter).
    assert str(system.uuid) not in response.text
    response = ops_client.get(reverse("jobs:list"), {"scope": "system"})
    assert str(system.uuid) in response.text
    assert '<span class="muted">system</span>' in response.text


@pytest.mark.parametrize("action", ["detail", "cancel", "retry"])
def test_other_user_gets_404(client, alice, bob, action):
    job = sleep_job(alice)
    client.force_login(bob)
    url = reverse(f"jobs:{action}", args=[job.uuid])
    response = client.get(url) if action == "detail" else client.post(url)
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.status == Status.QUEUED


def test_staff_sees_anyones_job(ops_client, alice):
    job = sleep_job(alice)
    response = ops_client.get(detail_url(job))
    assert response.status_code == 200
    assert "alice" in response.text


def test_unknown_job_is_404(alice_client):
    response = alice_client.get("/jobs/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


def test_poll_leaves_out_other_users_jobs(client, alice, bob):
    job = sleep_job(alice)
    client.force_login(bob)
    response = client.get(poll_url(job))
    assert response.status_code == 200
    assert str(job.uuid) not in response.text


# --- List ----------------------------------------------------------------------------


@runs_jobs
def test_list_filters_by_status_and_kind(alice_client, alice):
    queued = sleep_job(alice)
    done = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(done.pk)

    response = alice_client.get(reverse("jobs:list"), {"status": "succeeded"})
    assert str(done.uuid) in response.text
    assert str(queued.uuid) not in response.text

    response = alice_client.get(reverse("jobs:list"), {"kind": "diagnostics.sleep"})
    assert str(queued.uuid) in response.text
    assert str(done.uuid) not in response.text


def test_list_explains_a_bad_filter(alice_client, alice):
    sleep_job(alice)
    response = alice_client.get(reverse("jobs:list"), {"status": "sleeping"})
    assert response.status_code == 200
    assert "Fix the filters above" in response.text
    assert "Select a valid choice" in response.text


def test_list_pages_through_all_jobs_newest_first(alice_client, alice):
    jobs = [sleep_job(alice) for _ in range(JOBS_PER_PAGE + 5)]
    newest_first = [str(job.uuid) for job in reversed(jobs)]

    first = alice_client.get(reverse("jobs:list"))
    shown = re.findall(r'<tr id="job-([0-9a-f-]{36})">', first.text)
    assert shown == newest_first[:JOBS_PER_PAGE]
    older = re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")

    second = alice_client.get(reverse("jobs:list") + older)
    shown = re.findall(r'<tr id="job-([0-9a-f-]{36})">', second.text)
    assert shown == newest_first[JOBS_PER_PAGE:]
    assert 'rel="next"' not in second.text
    newer = re.search(r'href="([^"]+)" rel="prev"', second.text).group(1).replace("&amp;", "&")

    back = alice_client.get(reverse("jobs:list") + newer)
    assert re.findall(r'<tr id="job-([0-9a-f-]{36})">', back.text) == newest_first[:JOBS_PER_PAGE]


def test_list_ignores_a_damaged_cursor(alice_client, alice):
    job = sleep_job(alice)
    response = alice_client.get(reverse("jobs:list"), {"after": "not-a-cursor"})
    assert str(job.uuid) in response.text


def test_list_query_count_is_bounded(client, ops, alice, bob, django_assert_max_num_queries):
    for owner in [alice, bob] * 20:
        sleep_job(owner)
    client.force_login(ops)
    # session, user, one page of jobs with their owners
    with django_assert_max_num_queries(3):
        response = client.get(reverse("jobs:list"))
    assert response.text.count('<tr id="job-') == JOBS_PER_PAGE


def test_pages_load_htmx_from_the_package_not_a_cdn(alice_client, alice):
    response = alice_client.get(reverse("jobs:list"))
    assert re.search(r'<script src="/static/django_htmx/htmx-2\.min\.[0-9a-f]+\.js" defer>', response.text)
    assert "unpkg" not in response.text
    assert "cdn" not in response.text.lower()


# --- Poll ----------------------------------------------------------------------------


def test_poll_answers_changed_cells_out_of_band(alice_client, alice, django_assert_max_num_queries):
    first, second = sleep_job(alice), sleep_job(alice)
    running(first, done=1, total=4, message="step 2 of 4")
    with django_assert_max_num_queries(3):
        response = alice_client.get(poll_url(first, second), **HTMX)
    assert response.status_code == 200
    assert response["ETag"]
    assert f'<td id="job-{first.uuid}-status" hx-swap-oob="true">' in response.text
    assert f'<td id="job-{second.uuid}-progress" hx-swap-oob="true">' in response.text
    assert "25%" in response.text
    assert "step 2 of 4" in response.text
    assert '<div id="jobs-poller" hx-swap-oob="true" hx-get="/jobs/poll?' in response.text


def test_unchanged_poll_answers_304_with_no_body(alice_client, alice, django_assert_max_num_queries):
    job = running(sleep_job(alice), done=1)
    first = alice_client.get(poll_url(job), **HTMX)
    with django_assert_max_num_queries(3):
        second = alice_client.get(poll_url(job), HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert second.status_code == 304
    assert second.content == b""
    assert second["ETag"] == first["ETag"]

    services.job_heartbeat(job_id=job.pk, attempt=1, progress=(2, 4, "step 3 of 4"))
    third = alice_client.get(poll_url(job), HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert third.status_code == 200
    assert "50%" in third.text


@runs_jobs
def test_poll_stops_once_the_jobs_end(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(job.pk)
    response = alice_client.get(poll_url(job), **HTMX)
    assert "Succeeded" in response.text
    assert '<div id="jobs-poller" hx-swap-oob="true"></div>' in response.text


def test_poll_skips_damaged_ids(alice_client, alice):
    job = sleep_job(alice)
    response = alice_client.get(reverse("jobs:poll") + f"?ids=nope,{job.uuid},", **HTMX)
    assert response.status_code == 200
    assert str(job.uuid) in response.text


# --- Detail --------------------------------------------------------------------------


def test_owner_sees_progress_message_and_eta(alice_client, alice):
    job = running(sleep_job(alice), done=2, total=8, message="step 3 of 8")
    response = alice_client.get(detail_url(job))
    assert response.status_code == 200
    assert "Running" in response.text
    assert '<progress max="100" value="25.0"' in response.text
    assert "25%" in response.text
    assert "step 3 of 8" in response.text
    assert re.search(r'<span id="job-eta" class="muted">about \d+ s left</span>', response.text)
    assert 'hx-trigger="every 1s"' in response.text
    assert "Cancel job" in response.text


@runs_jobs
def test_finished_job_shows_result_log_and_attempts_and_stops_polling(alice_client, alice):
    job = sleep_job(alice)
    assert runner.execute(job.pk) == "succeeded"
    response = alice_client.get(detail_url(job))
    assert "Succeeded" in response.text
    assert "100%" in response.text
    assert "&quot;slept&quot;: 0.0" in response.text
    assert "slept 0s in 4 steps" in response.text
    assert re.search(
        r'<td class="num">1</td>\s*<td>[\d: -]+</td>\s*<td>[\d: -]+</td>\s*<td>Succeeded', response.text
    )
    assert "hx-trigger" not in response.text
    assert "Cancel job" not in response.text


@runs_jobs
def test_failed_job_shows_error_and_traceback_to_owner_and_staff(client, alice, ops):
    job = services.enqueue("diagnostics.fail", params={"times": 5}, owner=alice)
    runner.execute(job.pk)
    for user in (alice, ops):
        client.force_login(user)
        response = client.get(detail_url(job))
        assert "Failing on purpose (attempt 1 of the first 5)." in response.text
        assert "Traceback" in response.text
        assert "Retry now" in response.text
        # Waiting for a retry: polled, but not every second.
        assert 'hx-trigger="every 5s"' in response.text


@runs_jobs
def test_detail_query_count_is_bounded(ops_client, alice, django_assert_max_num_queries):
    job = services.enqueue("diagnostics.fail", params={"times": 1}, owner=alice)
    runner.execute(job.pk)
    services.job_retry(job=job)
    runner.execute(job.pk)
    # session, user, the job with its owner, its attempts
    with django_assert_max_num_queries(4):
        response = ops_client.get(detail_url(job))
    assert response.text.count("<td>Failed</td>") == 1
    assert response.text.count("<td>Succeeded</td>") == 1


def test_detail_poll_answers_the_live_part_then_304(alice_client, alice, django_assert_max_num_queries):
    job = running(sleep_job(alice), done=1)
    with django_assert_max_num_queries(4):
        response = alice_client.get(detail_url(job), **HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith("{#") or response.text.lstrip().startswith("<section")
    assert "<html" not in response.text
    assert 'id="job-live"' in response.text
    assert "HX-Request" in response["Vary"]

    with django_assert_max_num_queries(3):
        unchanged = alice_client.get(detail_url(job), HTTP_IF_NONE_MATCH=response["ETag"], **HTMX)
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    services.job_heartbeat(job_id=job.pk, attempt=1, log=["12:00:00 halfway"])
    changed = alice_client.get(detail_url(job), HTTP_IF_NONE_MATCH=response["ETag"], **HTMX)
    assert changed.status_code == 200
    assert "halfway" in changed.text


def test_full_page_ignores_if_none_match(alice_client, alice):
    """A reload always shows the whole page (and the messages waiting for it)."""
    job = sleep_job(alice)
    live = alice_client.get(detail_url(job), **HTMX)
    response = alice_client.get(detail_url(job), HTTP_IF_NONE_MATCH=live["ETag"])
    assert response.status_code == 200
    assert "<html" in response.text


# --- Cancel and retry ------------------------------------------------------------------


def test_owner_cancels_a_queued_job(alice_client, alice):
    job = sleep_job(alice)
    response = alice_client.post(reverse("jobs:cancel", args=[job.uuid]))
    assert response.status_code == 302
    assert response["Location"] == detail_url(job)
    assert messages_of(response) == ["Job cancelled."]
    job.refresh_from_db()
    assert job.status == Status.CANCELLED


def test_cancelling_a_running_job_asks_it_to_stop(alice_client, alice):
    job = running(sleep_job(alice))
    response = alice_client.post(reverse("jobs:cancel", args=[job.uuid]), {"next": detail_url(job)})
    assert response["Location"] == detail_url(job)
    assert messages_of(response)[0].startswith("Cancel requested")
    job.refresh_from_db()
    assert job.status == Status.RUNNING
    assert job.cancel_requested_at is not None
    page = alice_client.get(detail_url(job))
    assert "cancel requested" in page.text


@runs_jobs
def test_cancelling_a_finished_job_explains_why_not(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(job.pk)
    response = alice_client.post(reverse("jobs:cancel", args=[job.uuid]), follow=True)
    assert "Cannot cancel: The job already ended (succeeded)." in response.text
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED


def test_staff_retries_a_dead_job(ops_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    Job.objects.filter(pk=job.pk).update(status=Status.DEAD, attempts=1)
    response = ops_client.post(reverse("jobs:retry", args=[job.uuid]), follow=True)
    assert response.redirect_chain == [(detail_url(job), 302)]
    assert "Job submitted again." in response.text
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    assert 'hx-trigger="every 1s"' in response.text


def test_retrying_a_running_job_explains_why_not(alice_client, alice):
    job = running(sleep_job(alice))
    response = alice_client.post(reverse("jobs:retry", args=[job.uuid]), follow=True)
    assert "Cannot retry: Only dead, cancelled or failed jobs can be retried" in response.text
    job.refresh_from_db()
    assert job.status == Status.RUNNING


def test_actions_redirect_only_to_this_site(alice_client, alice):
    job = sleep_job(alice)
    response = alice_client.post(reverse("jobs:cancel", args=[job.uuid]), {"next": "https://evil.example/"})
    assert response["Location"] == detail_url(job)


def test_actions_need_post(alice_client, alice):
    job = sleep_job(alice)
    assert alice_client.get(reverse("jobs:cancel", args=[job.uuid])).status_code == 405
    assert alice_client.get(reverse("jobs:retry", args=[job.uuid])).status_code == 405


def test_actions_need_csrf_token(client, alice):
    job = sleep_job(alice)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(reverse("jobs:cancel", args=[job.uuid])).status_code == 403
    page = strict.get(detail_url(job))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = strict.post(reverse("jobs:cancel", args=[job.uuid]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
