"""The strict Content-Security-Policy breaks nothing a browser runs on the main pages."""

import pytest

from tests.browser.test_job_progress import log_in

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/orders/",
    "/jobs/",
    "/reports/",
    "/notifications/",
    "/imports/",
    "/monitoring/",
    "/monitoring/endpoints/",
    "/admin/",
    "/admin/jobs/job/",
    "/api/docs",
]

# Runs before any page script (through the DevTools protocol, which the policy does not
# govern) and records every violation the page reports.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
});
"""


def test_main_pages_run_under_the_policy_without_a_single_violation(tempo_processes, browser_page, ops):
    base_url, page = tempo_processes["base_url"], browser_page
    log_in(page, base_url, ops)
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on(
        "console",
        lambda message: console.append(message.text) if "Content Security Policy" in message.text else None,
    )

    for path in PAGES:
        response = page.goto(base_url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__violations") == [], path

    assert console == []
    # htmx and Swagger UI did run (no script was blocked on the way).
    page.goto(base_url + "/jobs/")
    assert page.evaluate("typeof htmx") == "object"
    page.goto(base_url + "/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
