"""The service worker in a real chromium: it installs and controls the pages, serves the
static files from its cache on the next visit, stores no page and no API answer, and shows
the offline page when the network is cut."""

import re

import pytest

from tests.browser.test_job_progress import log_in

pytestmark = pytest.mark.browser

HASHED_STATIC = re.compile(r"/static/.+\.[0-9a-f]{12}\.[A-Za-z0-9]+$")

WAIT_FOR_CONTROL = "() => navigator.serviceWorker.controller !== null"

CACHED_URLS = """async () => {
  const names = await caches.keys();
  const urls = [];
  for (const name of names) {
    for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
  }
  return {names, urls};
}"""


def controlled_page(page, base_url: str, user) -> None:
    """The home page of ``user``, once the worker has installed and taken control of it."""
    log_in(page, base_url, user)
    page.goto(base_url + "/")
    page.wait_for_function(WAIT_FOR_CONTROL)


def test_worker_installs_for_the_whole_site_and_controls_the_page(tempo_processes, browser_page, alice):
    base_url, page = tempo_processes["base_url"], browser_page

    controlled_page(page, base_url, alice)

    registration = page.evaluate(
        "async () => { const r = await navigator.serviceWorker.ready; "
        "return {scope: r.scope, script: r.active.scriptURL, state: r.active.state}; }"
    )
    assert registration == {"scope": base_url + "/", "script": base_url + "/sw.js", "state": "activated"}
    # Pages are fetched while the worker starts (navigation preload).
    assert page.evaluate("async () => (await navigator.serviceWorker.ready).navigationPreload.getState()")[
        "enabled"
    ]
    cached = page.evaluate(CACHED_URLS)
    assert len(cached["names"]) == 1 and cached["names"][0].startswith("tempo-static-")
    assert base_url + "/offline/" in cached["urls"]
    assert any(re.search(r"/static/css/tempo\.[0-9a-f]{12}\.css$", url) for url in cached["urls"])


def test_second_visit_takes_static_files_from_the_worker_and_pages_from_the_network(
    tempo_processes, browser_page, alice
):
    base_url, page = tempo_processes["base_url"], browser_page
    controlled_page(page, base_url, alice)
    responses = []
    page.on("response", lambda response: responses.append(response))

    page.goto(base_url + "/orders/")
    page.wait_for_load_state("networkidle")
    # A JSON API answer fetched by the page passes through untouched.
    assert page.evaluate("async () => (await fetch('/api/jobs?limit=1')).status") == 200

    statics = [response for response in responses if "/static/" in response.url]
    assert statics, "the page loaded no static file"
    for response in statics:
        assert HASHED_STATIC.search(response.url), response.url
        assert response.from_service_worker, f"{response.url} came from the network"
    document = next(response for response in responses if response.url == base_url + "/orders/")
    assert document.status == 200
    assert "Orders" in page.title()
    # Nothing but the offline page and hashed static files was stored: no page, no API answer.
    for url in page.evaluate(CACHED_URLS)["urls"]:
        assert url == base_url + "/offline/" or HASHED_STATIC.search(url), url


def test_with_the_network_cut_a_page_shows_the_styled_offline_page(tempo_processes, browser_page, alice):
    base_url, page = tempo_processes["base_url"], browser_page
    controlled_page(page, base_url, alice)

    page.context.set_offline(True)
    try:
        response = page.goto(base_url + "/jobs/")
        assert response.from_service_worker
        assert page.locator("h1").inner_text() == "You are offline"
        # Styled by tempo.css, which came from the worker's cache (the network is down).
        assert page.evaluate("getComputedStyle(document.querySelector('main.offline')).maxWidth") == "576px"
        # The address stays the page asked for: "try again" reloads it.
        assert page.url == base_url + "/jobs/"
    finally:
        page.context.set_offline(False)

    page.reload()
    assert page.locator("h1").first.inner_text() != "You are offline"


def test_activating_drops_the_caches_of_earlier_deploys_and_keeps_the_pages_live(
    tempo_processes, browser_page, alice
):
    base_url, page = tempo_processes["base_url"], browser_page
    log_in(page, base_url, alice)
    page.goto(base_url + "/offline/")
    # What an earlier deploy's worker left: its cache, under its own version.
    page.evaluate("caches.open('tempo-static-000000000000')")
    assert page.evaluate("caches.keys()") == ["tempo-static-000000000000"]

    page.goto(base_url + "/")
    page.wait_for_function(WAIT_FOR_CONTROL)

    names = page.evaluate("caches.keys()")
    assert len(names) == 1 and names[0].startswith("tempo-static-")
    assert names != ["tempo-static-000000000000"]
    response = page.goto(base_url + "/jobs/")
    assert response.status == 200 and "Jobs" in page.title()


def test_a_logged_out_visitor_is_redirected_to_the_login_page_through_the_worker(
    tempo_processes, browser_page, alice
):
    base_url, page = tempo_processes["base_url"], browser_page
    controlled_page(page, base_url, alice)

    page.context.clear_cookies()
    response = page.goto(base_url + "/jobs/")

    assert response.status == 200
    assert page.url.startswith(base_url + "/accounts/login/")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
