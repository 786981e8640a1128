"""Page budgets that cannot flake: every page of the site, visited once on one small world,
against a table of what it may cost.

The pages are the URLconf's routes (walked, and their parameters filled, as the
authorization matrix does) that answer GET with a 200 to someone: alice for what she can
see, else staff (ops). The API (its own query guards live with its tests), GraphQL, the
Django admin, Silk and the files a browser fetches by name (sw.js, the manifest, the
favicon) are not pages of the site. Each visit is rolled back, so every page sees the same
world. Per page the test counts:

- database queries (the cache is emptied before each page, so a cold page is counted),
- response bytes (the body as sent, before compression),
- templates rendered (Django's ``template_rendered`` signal: every include counts),

and every figure over its budget fails the test, naming the page and the figure.
"""

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext

from tests.hardening import conftest as hardening
from tests.hardening.conftest import World
from tests.hardening.test_authorization_matrix import routes, url_for

pytestmark = pytest.mark.django_db

# Not pages of the site: the APIs, Silk, the admin, Prometheus, probes and files fetched by name.
NOT_PAGES = (
    "api/",
    "graphql",
    "silk/",
    "admin/",
    "metrics",
    "healthz",
    "readyz",
    "sw.js",
    "manifest.webmanifest",
    "favicon.ico",
)

# route -> (queries, response bytes, templates rendered): what a cold visit may cost. Queries
# are exact (the most PostgreSQL or SQLite needs: the database page asks PostgreSQL more);
# bytes have about a quarter of headroom (dates and names vary in length), templates a tenth.
BUDGETS: dict[str, tuple[int, int, int]] = {
    "accounts/password_reset/": (2, 4_500, 10),
    "accounts/login/": (2, 3_500, 25),
    "accounts/password_change/": (2, 6_000, 27),
    "accounts/password_change/done/": (2, 4_000, 5),
    "accounts/password_reset/done/": (2, 4_000, 5),
    "accounts/reset/done/": (2, 4_000, 5),
    "jobs/": (3, 13_500, 128),
    "jobs/poll": (2, 500, 4),
    "jobs/<uuid:job_id>/": (4, 5_000, 11),
    "jobs/<uuid:job_id>/log": (3, 1_000, 3),
    "notifications/": (4, 6_000, 10),
    "notifications/bell": (3, 1_000, 3),
    "notifications/preferences": (3, 7_500, 65),
    "notifications/webhooks/": (4, 7_000, 43),
    "notifications/webhooks/<uuid:endpoint_id>/": (5, 5_500, 11),
    "reports/": (2, 6_500, 7),
    "reports/new/<slug:name>/": (2, 4_000, 17),
    "reports/runs/": (3, 5_000, 14),
    "reports/runs/poll": (2, 500, 4),
    "reports/runs/<uuid:run_id>/": (3, 4_500, 10),
    "reports/runs/<uuid:run_id>/download": (3, 1_000, 2),
    "monitoring/": (13, 12_500, 10),
    "monitoring/endpoints/": (6, 12_500, 9),
    "monitoring/queries/": (5, 12_000, 9),
    "monitoring/queries/<int:query_id>/": (5, 11_500, 9),
    "monitoring/database/": (14, 28_000, 9),
    "monitoring/queues/": (10, 14_000, 10),
    "monitoring/browser/": (6, 12_000, 9),
    "monitoring/alerts/": (7, 13_000, 9),
    "": (3, 3_000, 7),
    "orders/": (3, 6_500, 30),
    "orders/<int:order_id>/": (4, 4_500, 9),
    "imports/": (3, 4_500, 20),
    "offline/": (0, 1_500, 3),
}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The hardening suite's small world, built for this module and removed after it (its
    own fixture is the hardening package's: it would stay up while that package builds it)."""
    yield from hardening.world.__wrapped__(django_db_setup, django_db_blocker, tmp_path_factory)


def visit(client: Client, url: str) -> tuple[int, int, int, int]:
    """(status, queries, bytes, templates) of one cold GET."""
    rendered = []

    def count(sender, template, context, **kwargs):
        rendered.append(template.name)

    cache.clear()
    template_rendered.connect(count)
    try:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
                body = b"".join(response.streaming_content) if response.streaming else response.content
            transaction.set_rollback(True)
    finally:
        template_rendered.disconnect(count)
    return response.status_code, len(queries), len(body), len(rendered)


def over_budget(url: str, figures: tuple[int, int, int], budget: tuple[int, int, int]) -> list[str]:
    """One line per figure over its budget: "/orders/: 9 queries > budget 7"."""
    named = zip(("queries", "bytes", "templates"), figures, budget, strict=True)
    return [f"{url}: {value:,} {label} > budget {limit:,}" for label, value, limit in named if value > limit]


def test_a_figure_over_its_budget_names_the_page_and_the_figure():
    assert over_budget("/orders/", (9, 4_000, 30), (7, 6_500, 30)) == ["/orders/: 9 queries > budget 7"]
    assert over_budget("/jobs/", (3, 14_000, 130), (3, 13_500, 128)) == [
        "/jobs/: 14,000 bytes > budget 13,500",
        "/jobs/: 130 templates > budget 128",
    ]
    assert over_budget("/", (3, 3_000, 7), (3, 3_000, 7)) == []


def test_every_page_stays_within_its_query_byte_and_template_budgets(world: World, published):
    clients = {}
    for name in ("alice", "ops"):
        clients[name] = Client()
        clients[name].force_login(world.persona(name).user)
    over, unbudgeted, measured = [], [], {}
    for route in routes():
        if route.startswith(NOT_PAGES):
            continue
        url = url_for(world, route)
        status, queries, size, templates = visit(clients["alice"], url)
        if status != 200:
            status, queries, size, templates = visit(clients["ops"], url)
        if status != 200:
            continue  # unsafe methods only, or a redirect: not a page
        measured[route] = (queries, size, templates)
        budget = BUDGETS.get(route)
        if budget is None:
            unbudgeted.append(f"    {route!r}: ({queries}, {size}, {templates}),")
            continue
        over += over_budget(url, measured[route], budget)
    stale = sorted(set(BUDGETS) - set(measured))
    problems = []
    if over:
        problems.append("Over budget:\n  " + "\n  ".join(over))
    if unbudgeted:
        problems.append("Pages without a budget (measured now; add headroom):\n" + "\n".join(unbudgeted))
    if stale:
        problems.append(f"Budgets of routes that are not pages any more: {', '.join(stale)}")
    assert not problems, "\n\n".join(problems)
