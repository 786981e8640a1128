"""Bytes a first visit downloads per page: the HTML, and the JS and CSS files it references.

Usage (any database; a throwaway test database is created on it and dropped afterwards):

    .venv/bin/python benchmarks/page_bytes.py [--scale 0.01] [--budget-js-kb 20]

It collects the static files as production does (hashed, compressed), creates a test
database, loads TPC-H data of --scale, records a job, a report run and a few notifications
for a staff user (who sees every page, the performance overview too), then fetches the main
pages with a logged-in test client and prints per page: the HTML (raw and gzip), and the
gzip size of every script and stylesheet the HTML references (whitenoise's own .gz files,
what a browser downloads). Flagged: pages over the JS budget, scripts neither deferred nor
modules (BLOCKING), htmx loaded by a page with no hx- attribute (HTMX UNUSED). The job and the run stay
queued (no worker runs): their pages are the ones a user sees right after submitting.
"""

import argparse
import gzip
import sys
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import in_process  # noqa: F401  (sets Django up)
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_databases, setup_test_environment, teardown_databases

from apps.commerce.models import Order
from apps.commerce.services import dataset_load
from apps.jobs import services as jobs
from apps.notifications.services.inapp import notification_create
from apps.reports.services import report_run_create


class Assets(HTMLParser):
    """The scripts and stylesheets a page references, and its inline scripts' bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.blocking: list[str] = []
        self.styles: list[str] = []
        self._inline = False
        self.inline_script_bytes = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.scripts.append(attributes["src"])
            if "defer" not in attributes and "async" not in attributes and attributes.get("type") != "module":
                self.blocking.append(attributes["src"])
        elif tag == "script":
            self._inline = True
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.styles.append(attributes["href"])

    def handle_endtag(self, tag: str) -> None:
        self._inline = self._inline and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._inline:
            self.inline_script_bytes += len(data.encode())


def gzip_bytes(url: str) -> int:
    """What a browser that accepts gzip downloads for a static URL."""
    path = Path(settings.STATIC_ROOT) / url.removeprefix(staticfiles_storage.base_url)
    compressed = path.with_name(path.name + ".gz")
    # whitenoise keeps no .gz where compressing saves too little: the file is sent as it is.
    return (compressed if compressed.exists() else path).stat().st_size


def pages(user) -> dict[str, str]:
    order = Order.objects.order_by("-total_price").values_list("pk", flat=True).first()
    job = jobs.enqueue(kind="diagnostics.sleep", params={"seconds": 1, "steps": 1}, owner=user)
    run = report_run_create(owner=user, report="pricing_summary", params={})
    for number in range(5):
        notification_create(
            recipient=user, event="job.succeeded", title=f"Job {number} succeeded", link="/jobs/"
        )
    return {
        "home": "/",
        "orders": "/orders/",
        "an order": f"/orders/{order}/",
        "jobs": "/jobs/",
        "a job": f"/jobs/{job.uuid}/",
        "reports": "/reports/",
        "a report run": f"/reports/runs/{run.uuid}/",
        "notifications": "/notifications/",
        "performance overview": "/monitoring/",
    }


def kb(count: int) -> str:
    return f"{count / 1024:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="0.01", help="TPC-H scale of the throwaway data set.")
    parser.add_argument("--budget-js-kb", type=float, default=20.0, help="JS budget per page, KB gzip.")
    args = parser.parse_args()
    if settings.DEBUG:
        sys.exit("page_bytes: run with DEBUG=0 (hashed, compressed static files, as in production)")
    call_command("collectstatic", interactive=False, verbosity=0)
    setup_test_environment()
    # A name of its own: never the test suite's database, which may be in use (SQLite's is in memory).
    default = settings.DATABASES["default"]
    if default["ENGINE"] == "django.db.backends.postgresql":
        default.setdefault("TEST", {})["NAME"] = f"test_{default['NAME']}_page_bytes"
    databases = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        dataset_load(scale=Decimal(args.scale))
        user = get_user_model().objects.create_user("page-bytes", is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(user)
        print(f"{'page':<22}{'HTML':>8}{'HTML gz':>9}{'JS gz':>8}{'CSS gz':>8}  KB; scripts")
        for name, url in pages(user).items():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            html = response.content
            assets = Assets()
            assets.feed(html.decode())
            js = sum(gzip_bytes(src) for src in assets.scripts)
            css = sum(gzip_bytes(href) for href in assets.styles)
            flag = "  OVER BUDGET" if js > args.budget_js_kb * 1024 else ""
            flag += "".join(f"  BLOCKING {src.rsplit('/', 1)[1]}" for src in assets.blocking)
            if any("htmx" in src for src in assets.scripts) and b" hx-" not in html:
                flag += "  HTMX UNUSED"
            scripts = ", ".join(src.rsplit("/", 1)[1].split(".")[0] for src in assets.scripts)
            print(
                f"{name:<22}{kb(len(html)):>8}{kb(len(gzip.compress(html))):>9}{kb(js):>8}{kb(css):>8}"
                f"  {scripts}; inline {assets.inline_script_bytes} B{flag}"
            )
    finally:
        teardown_databases(databases, verbosity=0)


if __name__ == "__main__":
    main()
