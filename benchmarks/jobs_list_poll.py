"""What the open /jobs/ list costs per poll: requests, queries, bytes and CPU.

Usage (any database; everything it writes is rolled back at the end):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo REDIS_URL=redis://127.0.0.1:6379/11 \\
    .venv/bin/python benchmarks/jobs_list_poll.py [--live 25] [--polls 200]

A user with --live unfinished jobs (and 1,000 finished ones beneath them) opens the list;
its poller then asks, in one request per turn, for every unfinished row and for jobs newer
than the newest shown. Measured through the whole request path (middleware, session,
user, view) with Django's test client: the queries and bytes of an unchanged poll (304),
of one that brings a new job, and the CPU time (``time.process_time``) per poll.
"""

import argparse
import html
import re
import time

import in_process  # noqa: F401  (sets Django up)
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client

from apps.jobs.models import Job, Status

HTMX = {"HTTP_HX_REQUEST": "true"}


class RolledBack(Exception):
    pass


def next_poll(text: str) -> tuple[str, str]:
    """The request the page's poller makes next: its URL with the live rows' ids, its tag."""
    poller = re.search(r'<div id="jobs-poller"[^>]*>', text).group(0)
    url = html.unescape(re.search(r'hx-get="([^"]+)"', poller).group(1))
    headers = html.unescape(re.search(r'hx-headers="([^"]+)"', poller).group(1))
    etag = re.search(r'"If-None-Match": "(\\"[0-9a-f]+\\")"', headers).group(1).replace("\\", "")
    ids = re.findall(r'name="ids" value="([0-9a-f-]{36})"', text)
    return url + "".join(f"&ids={job_id}" for job_id in ids), etag


class QueryCount:
    """Counts the statements run on the connection (robust to Django resetting its log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def queries_of(client: Client, url: str, etag: str):
    counter = QueryCount()
    with connection.execute_wrapper(counter):
        response = client.get(url, HTTP_IF_NONE_MATCH=etag, **HTMX)
    return response, counter.count


def measure(client: Client, url: str, etag: str, polls: int) -> dict:
    response, queries = queries_of(client, url, etag)
    started = time.process_time()
    for _ in range(polls):
        client.get(url, HTTP_IF_NONE_MATCH=etag, **HTMX)
    cpu = (time.process_time() - started) / polls
    return {
        "status": response.status_code,
        "queries": queries,
        "bytes": len(response.content),
        "cpu": cpu,
    }


def run(live: int, polls: int) -> None:
    user = get_user_model().objects.create_user("jobs-list-bench")
    finished = [
        Job(kind="diagnostics.noop", owner=user, status=Status.SUCCEEDED, timeout=30) for _ in range(1000)
    ]
    Job.objects.bulk_create(finished)
    Job.objects.bulk_create(
        [
            Job(kind="diagnostics.sleep", owner=user, status=Status.RUNNING, attempts=1, timeout=60)
            for _ in range(live)
        ]
    )
    client = Client()
    client.force_login(user)
    page = client.get("/jobs/")
    url, etag = next_poll(page.text)
    shown = url.count("&ids=")
    print(f"page: {len(page.content):,} bytes, its {shown} unfinished rows polled in one request per turn")

    unchanged = measure(client, url, etag, polls)
    print(
        f"unchanged poll: {unchanged['status']}, {unchanged['queries']} queries, "
        f"{unchanged['bytes']} bytes, {unchanged['cpu'] * 1000:.2f} ms CPU"
    )

    Job.objects.create(kind="diagnostics.noop", owner=user, timeout=30)
    response, queries = queries_of(client, url, etag)
    print(
        f"poll bringing a new job: {response.status_code}, {queries} queries, "
        f"{len(response.content):,} bytes (the new row, {shown} rows' cells, the poller)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--live", type=int, default=25, help="Unfinished jobs on the page.")
    parser.add_argument("--polls", type=int, default=200, help="Polls to time.")
    args = parser.parse_args()
    try:
        with transaction.atomic():
            run(args.live, args.polls)
            raise RolledBack()
    except RolledBack:
        pass


if __name__ == "__main__":
    main()
