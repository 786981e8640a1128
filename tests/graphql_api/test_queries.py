"""What /graphql reads, and what it costs: one query per list and per nested list, keyset
slices with cursors, bounded page sizes."""

import pytest
from django.utils import timezone

from apps.jobs import services as job_services
from apps.jobs.models import JobAttempt, Status
from apps.reports import services as report_services
from tests.graphql_api.conftest import graphql

pytestmark = pytest.mark.django_db

ORDERS_WITH_LINES = """
query($first: Int, $after: String) {
  orders(first: $first, after: $after) {
    id orderDate totalPrice cursor
    customer { id name marketSegment }
    lineItems { lineNumber quantity extendedPrice partKey supplierKey }
  }
}
"""


def test_fifty_orders_with_customers_and_lines_cost_three_queries(
    counted_client, orders_with_lines, django_assert_num_queries
):
    # The session's user, the orders joined to their customers, and their lines
    # prefetched in one IN (...): the same 3 for 5 orders or 500.
    with django_assert_num_queries(3):
        response = graphql(counted_client, ORDERS_WITH_LINES, {"first": 50})

    orders = response.data["data"]["orders"]
    assert len(orders) == 50
    assert all(len(order["lineItems"]) == 3 for order in orders)
    # Order 50 belongs to customers[50 % 5], the first (conftest).
    assert orders[0]["customer"] == {"id": 1, "name": "Customer#000000001", "marketSegment": "BUILDING"}
    assert [line["lineNumber"] for line in orders[0]["lineItems"]] == [1, 2, 3]


def test_orders_come_newest_first_and_continue_after_a_cursor(alice_client, orders_with_lines):
    first_page = graphql(alice_client, ORDERS_WITH_LINES, {"first": 20}).data["data"]["orders"]
    second_page = graphql(
        alice_client, ORDERS_WITH_LINES, {"first": 20, "after": first_page[-1]["cursor"]}
    ).data["data"]["orders"]

    assert [order["id"] for order in first_page] == list(range(50, 30, -1))
    assert [order["id"] for order in second_page] == list(range(30, 10, -1))


def test_first_is_capped_at_the_apis_largest_page(alice_client, orders_with_lines, settings):
    settings.API_MAX_PAGE_SIZE = 7

    orders = graphql(alice_client, "{ orders(first: 1000) { id } }").data["data"]["orders"]

    assert len(orders) == 7


def test_without_first_a_list_has_the_apis_page_size(alice_client, orders_with_lines, settings):
    settings.API_PAGE_SIZE = 4

    assert len(graphql(alice_client, "{ orders { id } }").data["data"]["orders"]) == 4


def test_first_below_one_is_a_clear_error(alice_client):
    response = graphql(alice_client, "{ jobs(first: 0) { id } }")

    assert response.data["errors"][0]["message"] == "Invalid input: first must be at least 1 (got 0)."
    assert response.data["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


def test_a_cursor_no_list_issued_is_a_clear_error(alice_client):
    response = graphql(alice_client, '{ orders(after: "bm90IGEgY3Vyc29y") { id } }')

    error = response.data["errors"][0]
    assert error["message"].startswith("Invalid input: after: ")
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}


def test_orders_filter_by_customer_and_status(alice_client, orders_with_lines):
    response = graphql(
        alice_client, '{ orders(customerId: 2, status: "O", first: 100) { id customer { id } } }'
    )

    orders = response.data["data"]["orders"]
    assert len(orders) == 10
    assert {order["customer"]["id"] for order in orders} == {2}


def test_a_job_shows_its_progress_and_attempts(alice_client, alice):
    job = job_services.enqueue("diagnostics.noop", owner=alice)
    started = timezone.now()
    JobAttempt.objects.create(
        job=job, number=1, worker="vm:1", started_at=started, outcome="failed", error="x"
    )
    JobAttempt.objects.create(job=job, number=2, worker="vm:2", started_at=started)
    type(job).objects.filter(pk=job.pk).update(
        status=Status.RUNNING, attempts=2, progress_done=3, progress_total=4, progress_message="step 3"
    )

    response = graphql(
        alice_client,
        "query($id: UUID!) { job(id: $id) { status progressDone progressTotal progressMessage percent "
        "attemptCount maxAttempts attempts { number worker outcome error } } }",
        {"id": str(job.uuid)},
    )

    assert response.data["data"]["job"] == {
        "status": "running",
        "progressDone": 3,
        "progressTotal": 4,
        "progressMessage": "step 3",
        "percent": 75.0,
        "attemptCount": 2,
        "maxAttempts": 1,
        "attempts": [
            {"number": 1, "worker": "vm:1", "outcome": "failed", "error": "x"},
            {"number": 2, "worker": "vm:2", "outcome": "running", "error": ""},
        ],
    }


def test_jobs_with_their_attempts_cost_one_query_each(counted_client, alice, django_assert_num_queries):
    for _ in range(10):
        job = job_services.enqueue("diagnostics.noop", owner=alice)
        JobAttempt.objects.create(job=job, number=1, worker="vm:1", started_at=timezone.now())

    # The session's user, the jobs, their attempts.
    with django_assert_num_queries(3):
        response = graphql(counted_client, "{ jobs(first: 50) { id percent attempts { number } } }")

    assert len(response.data["data"]["jobs"]) == 10
    assert all(job["attempts"] == [{"number": 1}] for job in response.data["data"]["jobs"])


def test_report_runs_with_their_jobs_cost_one_query(
    counted_client, alice, settings, django_assert_num_queries
):
    settings.REPORTS_USER_MAX_ACTIVE = settings.JOBS_USER_MAX_ACTIVE = 50
    for _ in range(8):
        report_services.report_run_create(owner=alice, report="pricing_summary", params={})

    # The session's user, and the runs joined to their jobs (the state reads the job's status).
    with django_assert_num_queries(2):
        response = graphql(
            counted_client, "{ reportRuns { id state downloadUrl sha256 job { status progressDone } } }"
        )

    runs = response.data["data"]["reportRuns"]
    assert len(runs) == 8
    assert all(run["state"] == "queued" and run["downloadUrl"] is None for run in runs)
    assert all(run["job"] == {"status": "queued", "progressDone": 0} for run in runs)


def test_a_ready_run_gives_its_download_url(alice_client, alice):
    run = report_services.report_run_create(owner=alice, report="pricing_summary", params={})
    type(run).objects.filter(pk=run.pk).update(file_name="reports/x.csv", checksum="ab" * 32)

    response = graphql(
        alice_client,
        "query($id: UUID!) { reportRun(id: $id) { state sha256 downloadUrl } }",
        {"id": str(run.uuid)},
    )

    assert response.data["data"]["reportRun"] == {
        "state": "ready",
        "sha256": "ab" * 32,
        "downloadUrl": f"http://testserver/api/reports/{run.uuid}/download",
    }
