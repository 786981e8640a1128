"""The Lighthouse run's data: one staff user with a finished report run (its job and the
notification it sent), a session for that user, and the pages to audit as JSON on stdout.

Run by lighthouse/run.py with the run's own DATABASE_URL after migrate and load_tpch; the
report's job runs here, in this process, as a worker would run it.
"""

import json
import sys
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from apps.commerce.models import Order  # noqa: E402
from apps.jobs import runner  # noqa: E402
from apps.reports import services as reports  # noqa: E402

USERNAME = "lighthouse"
# TPC-H Q1: a few rows from every line item, so the run page shows a real, finished report.
REPORT = "pricing_summary"


def main() -> None:
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"is_staff": True})
    run = reports.report_run_create(owner=user, report=REPORT, params={}, format="csv")
    outcome = runner.execute(run.job.pk)
    if outcome != "succeeded":
        raise SystemExit(f"the report run's job ended {outcome!r}")
    order = Order.objects.order_by("pk").first()
    if order is None:
        raise SystemExit("no orders: load_tpch must run first")
    client = Client()
    client.force_login(user)
    pages = {
        "home": reverse("commerce:home"),
        "orders": reverse("commerce:orders"),
        "order": reverse("commerce:order", args=[order.pk]),
        "jobs": reverse("jobs:list"),
        "job": reverse("jobs:detail", args=[run.job.uuid]),
        "reports": reverse("reports:catalog"),
        "report-run": reverse("reports:run", args=[run.uuid]),
        "notifications": reverse("notifications:list"),
        "performance": reverse("monitoring:overview"),
    }
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    json.dump({"cookie": cookie, "pages": pages}, sys.stdout)


if __name__ == "__main__":
    main()
