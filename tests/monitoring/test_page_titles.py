"""Each performance page names itself once: the overview is "Performance", the others
"<page> | Performance" under the trail Home, Performance, <page>."""

import re

import pytest

pytestmark = pytest.mark.django_db

# The admin's breadcrumb separator.
SEP = "\u203a"


def title_and_trail(page: str) -> tuple[str, str]:
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1).strip()
    trail = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S).group(1)
    return title, re.sub(r"<[^>]+>", "", trail).strip()


def test_overview_says_performance_once(ops_client):
    title, trail = title_and_trail(ops_client.get("/monitoring/").content.decode())

    assert title == "Performance"
    assert trail == f"Home {SEP} Performance"


@pytest.mark.parametrize(
    ("url", "name"),
    [("/monitoring/endpoints/", "Endpoints"), ("/monitoring/database/", "Database health")],
)
def test_other_pages_sit_under_the_overview(ops_client, url, name):
    page = ops_client.get(url).content.decode()
    title, trail = title_and_trail(page)

    assert title == f"{name} | Performance"
    assert trail == f"Home {SEP} Performance {SEP} {name}"
    assert '<a href="/monitoring/">Performance</a>' in page
