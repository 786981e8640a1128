"""The jobs list in a real browser, against gunicorn and a real qcluster: a job submitted
from the page appears in the open list and completes there, new jobs arrive without a
reload, and the list scrolls endlessly."""

import pytest

from apps.jobs import runner, services
from apps.jobs.models import Job
from apps.jobs.views import JOBS_PER_PAGE
from tests.browser.test_job_progress import DEADLINE_MS, log_in, record_polls

pytestmark = pytest.mark.browser


def row_status(uuid: str) -> str:
    return f"document.querySelector('#job-{uuid}-status')?.textContent.trim()"


def test_job_submitted_from_the_list_appears_and_completes_live(tempo_processes, browser_page, alice):
    base_url, page = tempo_processes["base_url"], browser_page
    log_in(page, base_url, alice)
    refused = []
    page.on("console", lambda message: message.type == "error" and refused.append(message.text))
    polls = record_polls(page, f"{base_url}/jobs/poll")

    page.goto(f"{base_url}/jobs/")
    page.evaluate("window.__marker = 1")
    assert page.locator("#jobs-empty").is_visible()

    page.locator(".job-submit-panel summary").click()
    page.select_option("#id_submit-kind", "diagnostics.sleep")
    # The kind's parameter fields arrive (htmx), within the user's bounds.
    seconds = page.locator("#id_submit-param_seconds")
    seconds.wait_for()
    assert seconds.get_attribute("max") == "60"
    seconds.fill("3")
    page.fill("#id_submit-param_steps", "6")
    page.click("#job-submit-form button[type=submit]")

    page.locator(".job-submitted").wait_for()
    job = Job.objects.get(owner=alice)
    uuid = str(job.uuid)
    # The poller was told to poll at once: the job is in the open list before it ends.
    page.wait_for_function(f"() => !!document.querySelector('#job-{uuid}')", timeout=DEADLINE_MS)
    assert page.evaluate(row_status(uuid)) in ("Queued", "Running")
    assert not page.locator("#jobs-empty").count()

    page.wait_for_function(f"() => {row_status(uuid)} === 'Succeeded'", timeout=DEADLINE_MS)
    assert page.locator(f"#job-{uuid}-progress .job-percent").inner_text() == "100%"
    assert job.params == {"seconds": 3.0, "steps": 6}

    # A job submitted elsewhere (the API, another tab) arrives too.
    other = services.enqueue("diagnostics.noop", owner=alice)
    page.wait_for_function(f"() => {row_status(other.uuid)} === 'Succeeded'", timeout=DEADLINE_MS)
    assert page.locator("table.jobs tbody tr").count() == 2
    assert page.locator("table.jobs tbody tr").first.get_attribute("id") == f"job-{other.uuid}"

    assert page.evaluate("window.__marker") == 1, "the page reloaded or navigated"
    # One request per poll, each answered with what changed or a 304.
    assert polls
    assert {status for _, _, status in polls} <= {200, 304}, polls
    assert not refused, refused


def test_jobs_list_scrolls_endlessly(tempo_processes, browser_page, alice):
    base_url, page = tempo_processes["base_url"], browser_page
    jobs = [services.enqueue("diagnostics.noop", owner=alice) for _ in range(JOBS_PER_PAGE + 5)]
    for job in jobs:
        runner.execute(job.pk)
    log_in(page, base_url, alice)
    page.set_viewport_size({"width": 1280, "height": 700})
    page.goto(f"{base_url}/jobs/")
    rows = page.locator("table.jobs tbody tr[id^=job-]")
    assert rows.count() == JOBS_PER_PAGE

    page.locator("#jobs-more").scroll_into_view_if_needed()
    page.wait_for_function(
        f"() => document.querySelectorAll('table.jobs tbody tr[id^=job-]').length === {len(jobs)}",
        timeout=DEADLINE_MS,
    )
    shown = [row.get_attribute("id") for row in rows.all()]
    assert shown == [f"job-{job.uuid}" for job in reversed(jobs)]
    assert page.locator("#jobs-more").count() == 0
    # Rows far off screen are skipped by the browser (content-visibility: auto).
    assert (
        page.locator("table.jobs tbody tr").first.evaluate("row => getComputedStyle(row).contentVisibility")
        == "auto"
    )
