"""Accounts and ids for a load test; prints JSON for the locustfile (loadtest/run.sh calls it).

Creates (or reuses) the user ``loadtest``, logged-in sessions for the browsing users
(so that the test measures browsing, not 200 password hashes at once) and API tokens
for the API clients, and picks existing order and customer ids from the TPC-H data.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from apps.commerce.models import Customer, Order  # noqa: E402
from apps.core.services import api_token_create  # noqa: E402
from apps.core.session_users import session_issue  # noqa: E402

SESSIONS = int(os.environ.get("LOADTEST_SESSIONS", "50"))
TOKENS = int(os.environ.get("LOADTEST_TOKENS", "10"))


def main() -> None:
    User = get_user_model()
    user, _ = User.objects.get_or_create(username="loadtest", defaults={"email": "loadtest@example.com"})
    # Logged in as a login does it (backend, hash, session generation), in the session engine
    # in effect: a signed cookie's value or a stored session's key.
    sessions = [session_issue(user=user) for _ in range(SESSIONS)]
    tokens = [api_token_create(user=user, name=f"loadtest {index}")[1] for index in range(TOKENS)]
    order_ids = list(Order.objects.order_by("-order_date", "-id").values_list("id", flat=True)[:2000])
    customer_ids = list(Customer.objects.order_by("id").values_list("id", flat=True)[:5000])
    if not order_ids or not customer_ids:
        sys.exit("No TPC-H data: run `manage.py load_tpch --scale 0.1` first.")
    json.dump(
        {"sessions": sessions, "tokens": tokens, "order_ids": order_ids, "customer_ids": customer_ids},
        sys.stdout,
    )


main()
