"""A real job, run by a real worker, followed live in a real browser (no reloads)."""

import re

import pytest
from django.conf import settings
from django.test import Client

from apps.jobs import services

pytestmark = pytest.mark.browser

# Generous: the worker may still be starting when the job is enqueued.
DEADLINE_MS = 45_000

# Records what the page shows after every DOM change, to check what it went through.
WATCH_JOB = """() => {
  window.__marker = 1;
  window.__seen = [];
  const record = () => {
    const live = document.querySelector('#job-live');
    const percent = live && live.querySelector('.job-percent');
    window.__seen.push([live && live.dataset.status, percent && percent.textContent.trim()]);
  };
  record();
  new MutationObserver(record).observe(document.querySelector('main'), {childList: true, subtree: true});
}"""


def log_in(page, base_url: str, user) -> None:
    """Give the browser a session of ``user`` (made by the test client's force_login).

    Not through the login form: the suite hashes persona passwords with a fast hasher
    that the server process does not accept. The cookie is Secure, as Django sets it with
    DEBUG off: chromium sends Secure cookies to http://127.0.0.1 (a trustworthy origin).
    """
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session,
                "url": base_url,
                "secure": settings.SESSION_COOKIE_SECURE,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


def record_polls(page, path_prefix: str) -> list:
    polls = []

    def on_response(response) -> None:
        request = response.request
        if request.url.startswith(path_prefix) and request.headers.get("hx-request") == "true":
            polls.append((request.url, request.headers.get("if-none-match"), response.status))

    page.on("response", on_response)
    return polls


def test_job_page_follows_a_real_job_to_success_without_reloading(tempo_processes, browser_page, alice):
    base_url, page = tempo_processes["base_url"], browser_page
    log_in(page, base_url, alice)

    job = services.enqueue("diagnostics.sleep", params={"seconds": 4, "steps": 8}, owner=alice)
    job_url = f"{base_url}/jobs/{job.uuid}/"
    polls = record_polls(page, job_url)
    page.goto(job_url)
    page.evaluate(WATCH_JOB)
    first_status = page.evaluate("window.__seen[0][0]")
    assert first_status in ("queued", "running"), f"the job ended before the page showed it: {first_status}"

    page.wait_for_function(
        "() => document.querySelector('#job-live')?.dataset.status === 'succeeded'", timeout=DEADLINE_MS
    )

    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    assert page.locator("#job-status").inner_text().strip() == "Succeeded"
    assert page.locator("#job-progress .job-percent").inner_text() == "100%"
    assert page.locator("#job-progress progress").get_attribute("value") == "100.0"
    assert '"slept": 4.0' in page.locator("#job-result").inner_text()
    assert "slept 4s in 8 steps" in page.locator("#job-log").inner_text()
    # Polling stopped with the job: the final live part carries no trigger.
    assert page.locator("#job-live").get_attribute("hx-trigger") is None

    seen = page.evaluate("window.__seen")
    running = [percent for status, percent in seen if status == "running"]
    assert any(percent not in ("0%", "100%") for percent in running), f"no progress seen in between: {seen}"
    # Every poll told the server what it shows; the server answered with the state or 304.
    assert polls, "the page never polled"
    assert all(if_none_match for _, if_none_match, _ in polls), polls
    assert {status for _, _, status in polls} <= {200, 304}, polls


def test_job_list_follows_all_its_jobs_with_one_request_per_poll(tempo_processes, browser_page, alice):
    base_url, page = tempo_processes["base_url"], browser_page
    log_in(page, base_url, alice)

    jobs = [
        services.enqueue("diagnostics.sleep", params={"seconds": 2, "steps": 4}, owner=alice)
        for _ in range(2)
    ]
    polls = record_polls(page, f"{base_url}/jobs/poll")
    page.goto(f"{base_url}/jobs/")
    page.evaluate("window.__marker = 1")
    assert page.locator("#jobs-poller").get_attribute("hx-get")

    for job in jobs:
        page.wait_for_function(
            f"() => document.querySelector('#job-{job.uuid}-status')?.textContent.includes('Succeeded')",
            timeout=DEADLINE_MS,
        )
        assert page.locator(f"#job-{job.uuid}-progress .job-percent").inner_text() == "100%"

    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    # The cells were swapped in place: still one row per job, in the table.
    assert page.locator("table.jobs tbody tr").count() == 2
    # Each poll asked for every unfinished job at once.
    assert polls
    asked = re.findall(r"ids=([0-9a-f-]{36})", polls[0][0])
    assert sorted(asked) == sorted(str(job.uuid) for job in jobs)
    # Both ended: the poller only watches for new jobs now, and less often.
    page.wait_for_function(
        "() => document.querySelector('#jobs-poller').getAttribute('hx-trigger').startsWith('every 5s')"
    )
