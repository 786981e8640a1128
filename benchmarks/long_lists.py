"""What a long orders list costs the browser: page 1 against 50 pages appended by endless
scroll, and the first paint of a deep page.

Usage (on the TPC-H data of DATABASE_URL, at least 2,550 orders: `manage.py load_tpch
--scale 0.01` gives 15,000; Redis as in production):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo REDIS_URL=redis://127.0.0.1:6379/0 \\
    .venv/bin/python benchmarks/long_lists.py [--pages 50] [--runs 5]

It starts gunicorn on a free loopback port (stopped again by its PID at the end) and drives
Debian's chromium with Playwright, logged in as a benchmark user. It prints, as medians of
--runs fresh page loads:

1. page 1 of /orders/: First Contentful Paint (the browser's own paint entry) and DOM nodes;
2. the 51st page opened directly (its keyset cursor): FCP and DOM nodes;
3. /orders/ after scrolling to the end until --pages more pages were appended: rows, DOM
   nodes, the mean time from reaching the end to the next page's rows being in the DOM, and
   the time of one full style and layout of the page (the width of <main> changed), with
   the rows' `content-visibility: auto` as served and with it turned off.
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-production")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from apps.commerce import selectors  # noqa: E402
from apps.commerce.models import Order  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
PAGE_SIZE = 50
ROWS = "#order-rows tr:not(.endless-more)"
FIRST_PAINT = """() => new Promise(resolve => {
  const found = () => performance.getEntriesByName('first-contentful-paint')[0];
  if (found()) return resolve(found().startTime);
  new PerformanceObserver(() => found() && resolve(found().startTime))
    .observe({type: 'paint', buffered: true});
})"""
DOM_NODES = "() => document.getElementsByTagName('*').length"
# One forced style and layout of the whole page: <main> narrower, read a size, then back.
RELAYOUT_MS = """() => {
  const main = document.querySelector('main');
  const times = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    main.classList.toggle('bench-narrow');
    document.body.getBoundingClientRect();
    times.push(performance.now() - started);
  }
  main.classList.remove('bench-narrow');
  times.sort((a, b) => a - b);
  return times[2];
}"""
BENCH_STYLE = "main.bench-narrow { max-width: 60rem; }"
NO_CONTENT_VISIBILITY = "table.endless > tbody > tr { content-visibility: visible !important; }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_start(port: int) -> subprocess.Popen:
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "DEBUG_TOOLBAR": "0", "WEB_CONCURRENCY": "2"}
    args = [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "config/gunicorn.conf.py"]
    server = subprocess.Popen(
        [*args, "--no-control-socket"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"long_lists: gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    gunicorn_stop(server)
    sys.exit("long_lists: gunicorn did not answer /healthz within 30 s")


def gunicorn_stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


def session_cookie(base_url: str) -> dict:
    user, _ = get_user_model().objects.get_or_create(username="bench-long-lists")
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": base_url,
        "secure": settings.SESSION_COOKIE_SECURE,
        "httpOnly": True,
        "sameSite": "Lax",
    }


def deep_cursor(pages: int) -> str:
    """The cursor of the page after ``pages`` pages, as the pager links would carry it."""
    key = None
    for _ in range(pages):
        key = selectors.orders_page(filters=selectors.OrderFilters(), limit=PAGE_SIZE, after=key).next_key
    return selectors.ORDER_KEYSET.encode(key)


def add_rule(page, rule: str) -> None:
    """A CSS rule added through the CSSOM (the CSP refuses a <style> element)."""
    page.evaluate(
        "rule => document.styleSheets[0].insertRule(rule, document.styleSheets[0].cssRules.length)", rule
    )


def load(context, url: str) -> tuple[object, float, int]:
    page = context.new_page()
    page.goto(url, wait_until="load")
    return page, page.evaluate(FIRST_PAINT), page.evaluate(DOM_NODES)


def append_pages(page, pages: int) -> list[float]:
    """Scroll to the end ``pages`` times; each time, ms until the next page's rows arrive."""
    waits = []
    for n in range(2, pages + 2):
        started = time.perf_counter()
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length >= {n * PAGE_SIZE}")
        waits.append((time.perf_counter() - started) * 1000)
    return waits


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=50, help="pages to append by scrolling (default 50)")
    parser.add_argument("--runs", type=int, default=5, help="fresh loads per figure; medians are printed")
    options = parser.parse_args()
    needed = (options.pages + 1) * PAGE_SIZE
    if not Order.objects.all()[needed - 1 : needed].exists():
        sys.exit(
            f"long_lists: needs {needed:,} orders; load TPC-H data first (manage.py load_tpch --scale 0.01)"
        )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    deep_url = f"{base_url}/orders/?after={deep_cursor(options.pages)}"
    cookie = session_cookie(base_url)  # before Playwright: its loop makes this thread async
    server = gunicorn_start(port)
    figures: dict[str, list[float]] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.add_cookies([cookie])
            load(context, f"{base_url}/orders/")[0].close()  # warms the server's cache and workers
            for _ in range(options.runs):
                for name, url in (("page 1", f"{base_url}/orders/"), ("deep", deep_url)):
                    page, fcp, nodes = load(context, url)
                    figures.setdefault(f"{name} fcp", []).append(fcp)
                    figures.setdefault(f"{name} nodes", []).append(nodes)
                    if name == "page 1":
                        add_rule(page, BENCH_STYLE)
                        figures.setdefault("page 1 relayout", []).append(page.evaluate(RELAYOUT_MS))
                    page.close()
            page, _, _ = load(context, f"{base_url}/orders/")
            waits = append_pages(page, options.pages)
            page.evaluate("() => window.scrollTo(0, 0)")
            add_rule(page, BENCH_STYLE)
            rows = page.evaluate(f"() => document.querySelectorAll('{ROWS}').length")
            appended_nodes = page.evaluate(DOM_NODES)
            relayout_auto = [page.evaluate(RELAYOUT_MS) for _ in range(options.runs)]
            add_rule(page, NO_CONTENT_VISIBILITY)
            relayout_visible = [page.evaluate(RELAYOUT_MS) for _ in range(options.runs)]
            browser.close()
    finally:
        gunicorn_stop(server)
    pages = options.pages
    print(f"orders list, {options.runs} runs each, medians (chromium {CHROMIUM}, viewport 1366x900)")
    print(
        f"  page 1:                 FCP {median(figures['page 1 fcp']):6.0f} ms   "
        f"DOM nodes {median(figures['page 1 nodes']):7,.0f}   "
        f"relayout {median(figures['page 1 relayout']):6.1f} ms"
    )
    print(
        f"  page {pages + 1} opened directly: FCP {median(figures['deep fcp']):6.0f} ms   "
        f"DOM nodes {median(figures['deep nodes']):7,.0f}"
    )
    print(f"  page 1 + {pages} appended:    rows {rows:,}   DOM nodes {appended_nodes:,}")
    print(
        f"    next page in the DOM after reaching the end: pages 2-11 {statistics.mean(waits[:10]):.0f} ms, "
        f"last 10 pages {statistics.mean(waits[-10:]):.0f} ms (mean)"
    )
    print(
        f"    relayout: {median(relayout_auto):.1f} ms with content-visibility: auto, "
        f"{median(relayout_visible):.1f} ms without"
    )


if __name__ == "__main__":
    main()
