"""The jobs JSON API's lists: a user's jobs newest first, paged and filtered, and many jobs
by id at once (what pages poll)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.cursor import cursor_encode
from apps.jobs import services
from apps.jobs.models import Job
from tests.jobs.conftest import JOBS_URL

pytestmark = pytest.mark.django_db


def make_jobs(owner, count: int, *, kind: str = "diagnostics.noop", same_time: bool = True) -> list[Job]:
    """``count`` jobs, newest last; with ``same_time`` they share created_at (tie-break by id)."""
    jobs = [services.enqueue(kind, owner=owner) for _ in range(count)]
    if same_time:
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(created_at=jobs[0].created_at)
    return jobs


def test_owner_lists_own_jobs_newest_first(alice_client, alice, bob):
    mine = make_jobs(alice, 3, same_time=False)
    make_jobs(bob, 2)

    body = alice_client.get(JOBS_URL).json()

    assert [item["id"] for item in body["items"]] == [str(job.uuid) for job in reversed(mine)]
    assert body["next"] is None and body["next_url"] is None


def test_list_pages_through_jobs_created_at_the_same_moment(alice_client, alice):
    jobs = make_jobs(alice, 5)
    expected = [str(job.uuid) for job in reversed(jobs)]

    seen, url, pages = [], f"{JOBS_URL}?limit=2", 0
    while url:
        body = alice_client.get(url).json()
        seen += [item["id"] for item in body["items"]]
        url, pages = body["next_url"], pages + 1

    assert seen == expected
    assert pages == 3


def test_list_filters_by_status_kind_and_queue(alice_client, alice):
    noop, sleep = (
        services.enqueue("diagnostics.noop", owner=alice),
        services.enqueue("diagnostics.sleep", owner=alice),
    )
    high = services.enqueue("diagnostics.noop", owner=alice, queue="high")
    services.job_cancel(job=sleep)

    def ids(**query) -> set[str]:
        return {item["id"] for item in alice_client.get(JOBS_URL, query).json()["items"]}

    assert ids(status="cancelled") == {str(sleep.uuid)}
    assert ids(kind="diagnostics.noop") == {str(noop.uuid), str(high.uuid)}
    assert ids(queue="high") == {str(high.uuid)}
    assert ids(status="queued", queue="default") == {str(noop.uuid)}


def test_list_with_unknown_status_is_422(alice_client):
    response = alice_client.get(JOBS_URL, {"status": "lost"})

    assert response.status_code == 422
    assert "status" in response.json()["message"]


def test_list_with_forged_cursor_is_422(alice_client):
    for cursor in ("nonsense!", cursor_encode(["yesterday", 1]), cursor_encode(["2024-01-01T00:00:00", 1])):
        response = alice_client.get(JOBS_URL, {"cursor": cursor})
        assert response.status_code == 422
        assert "cursor" in response.json()["message"]


def test_list_query_count_does_not_grow_with_jobs(alice_client, alice, django_assert_max_num_queries):
    make_jobs(alice, 2)
    with CaptureQueriesContext(connection) as few:
        assert len(alice_client.get(JOBS_URL).json()["items"]) == 2
    make_jobs(alice, 10)

    # Session, user, one page.
    with django_assert_max_num_queries(3):
        assert len(alice_client.get(JOBS_URL).json()["items"]) == 12
    with django_assert_max_num_queries(3):
        assert len(alice_client.get(JOBS_URL, {"limit": 5}).json()["items"]) == 5
    assert len(few.captured_queries) <= 3


# --- Many by id (polling) -------------------------------------------------------------


def test_ids_returns_those_jobs_in_the_order_asked(alice_client, alice):
    first, _, third = make_jobs(alice, 3)

    body = alice_client.get(JOBS_URL, {"ids": f"{third.uuid},{first.uuid}"}).json()

    assert [item["id"] for item in body["items"]] == [str(third.uuid), str(first.uuid)]
    assert body["next"] is None


def test_ids_silently_omits_unknown_and_foreign_jobs(alice_client, alice, bob):
    mine = services.enqueue("diagnostics.noop", owner=alice)
    theirs = services.enqueue("diagnostics.noop", owner=bob)

    body = alice_client.get(
        JOBS_URL, {"ids": f"{uuid.uuid4()}, {theirs.uuid}, {mine.uuid}, {mine.uuid}"}
    ).json()

    assert [item["id"] for item in body["items"]] == [str(mine.uuid)]


def test_ids_with_an_invalid_id_is_422_naming_it(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)

    response = alice_client.get(JOBS_URL, {"ids": f"{job.uuid},banana"})

    assert response.status_code == 422
    assert "'banana'" in response.json()["message"]


def test_ids_are_capped_at_100(alice_client):
    response = alice_client.get(JOBS_URL, {"ids": ",".join(str(uuid.uuid4()) for _ in range(101))})

    assert response.status_code == 422
    assert "at most 100" in response.json()["message"]
    assert (
        alice_client.get(JOBS_URL, {"ids": ",".join(str(uuid.uuid4()) for _ in range(100))}).status_code
        == 200
    )


def test_ids_cannot_be_combined_with_filters(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)

    response = alice_client.get(JOBS_URL, {"ids": str(job.uuid), "status": "queued"})

    assert response.status_code == 422
    assert "status" in response.json()["message"]


def test_ids_query_count_does_not_grow_with_jobs(alice_client, alice, django_assert_max_num_queries):
    jobs = make_jobs(alice, 12)

    with django_assert_max_num_queries(3):
        assert len(alice_client.get(JOBS_URL, {"ids": str(jobs[0].uuid)}).json()["items"]) == 1
    with django_assert_max_num_queries(3):
        body = alice_client.get(JOBS_URL, {"ids": ",".join(str(job.uuid) for job in jobs)}).json()
    assert len(body["items"]) == 12
