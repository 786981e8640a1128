"""Who sees what through /graphql: the JSON API's rules for each type (alice, bob, ops).

Jobs and report runs: the owner and staff. Notifications: their recipient only. Commerce:
any logged-in user. An id someone may not see reads exactly like an unknown one: null.
"""

import uuid

import pytest
from django.test import Client

from apps.jobs import services as job_services
from apps.notifications.services.inapp import notification_create
from apps.reports import services as report_services
from tests.graphql_api.conftest import graphql

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alices_things(alice):
    return {
        "job": job_services.enqueue("diagnostics.noop", owner=alice),
        "run": report_services.report_run_create(owner=alice, report="pricing_summary", params={}),
        "notification": notification_create(recipient=alice, event="job.succeeded", title="Done"),
    }


JOB = "query($id: UUID!) { job(id: $id) { id status kind } }"
RUN = "query($id: UUID!) { reportRun(id: $id) { id report state job { id } } }"
NOTIFICATION = "query($id: Int!) { notification(id: $id) { id title } }"
LISTS = "{ jobs { id } reportRuns { id } notifications { id } }"


def one(user, query: str, id) -> dict | None:
    response = graphql(client_of(user), query, {"id": id})
    assert response.status_code == 200, response.content
    assert "errors" not in response.data, response.data
    return next(iter(response.data["data"].values()))


def test_owner_sees_their_job_run_and_notification(alice, alices_things):
    job, run, notification = alices_things["job"], alices_things["run"], alices_things["notification"]

    assert one(alice, JOB, str(job.uuid)) == {"id": str(job.uuid), "status": "queued", "kind": job.kind}
    assert one(alice, RUN, str(run.uuid)) == {
        "id": str(run.uuid),
        "report": "pricing_summary",
        "state": "queued",
        "job": {"id": str(run.job.uuid)},
    }
    assert one(alice, NOTIFICATION, notification.pk) == {"id": notification.pk, "title": "Done"}


def test_another_user_gets_null_as_for_an_unknown_id(bob, alices_things):
    assert one(bob, JOB, str(alices_things["job"].uuid)) is None
    assert one(bob, RUN, str(alices_things["run"].uuid)) is None
    assert one(bob, NOTIFICATION, alices_things["notification"].pk) is None
    assert one(bob, JOB, str(uuid.uuid4())) is None
    assert one(bob, RUN, str(uuid.uuid4())) is None
    assert one(bob, NOTIFICATION, 10**9) is None


def test_another_users_lists_leave_alices_out(bob, alices_things):
    response = graphql(client_of(bob), LISTS)

    assert response.data == {"data": {"jobs": [], "reportRuns": [], "notifications": []}}


def test_staff_sees_anyones_job_and_run_but_not_their_notifications(ops, alices_things):
    job, run = alices_things["job"], alices_things["run"]

    assert one(ops, JOB, str(job.uuid))["id"] == str(job.uuid)
    assert one(ops, RUN, str(run.uuid))["id"] == str(run.uuid)
    assert one(ops, NOTIFICATION, alices_things["notification"].pk) is None
    lists = graphql(client_of(ops), LISTS).data["data"]
    assert {item["id"] for item in lists["jobs"]} == {str(job.uuid), str(run.job.uuid)}
    assert [item["id"] for item in lists["reportRuns"]] == [str(run.uuid)]
    assert lists["notifications"] == []


def test_owner_lists_their_own(alice, alices_things):
    lists = graphql(client_of(alice), LISTS).data["data"]

    assert {item["id"] for item in lists["jobs"]} == {
        str(alices_things["job"].uuid),
        str(alices_things["run"].job.uuid),
    }
    assert [item["id"] for item in lists["reportRuns"]] == [str(alices_things["run"].uuid)]
    assert [item["id"] for item in lists["notifications"]] == [alices_things["notification"].pk]


@pytest.mark.parametrize("persona", ["alice", "bob", "ops"])
def test_every_logged_in_user_reads_orders_and_customers(request, persona, orders_with_lines):
    user = request.getfixturevalue(persona)
    order = orders_with_lines[0]

    response = graphql(
        client_of(user),
        "query($o: Int!, $c: Int!) { order(id: $o) { id customer { id } } customer(id: $c) { name } "
        "orders(first: 2) { id } customers(first: 1) { id } }",
        {"o": order.pk, "c": order.customer_id},
    )

    assert response.data == {
        "data": {
            "order": {"id": order.pk, "customer": {"id": order.customer_id}},
            "customer": {"name": order.customer.name},
            "orders": [{"id": 50}, {"id": 49}],
            "customers": [{"id": 5}],
        }
    }


def test_an_unknown_order_or_customer_is_null(alice_client):
    response = graphql(alice_client, "{ order(id: 123456) { id } customer(id: 123456) { id } }")

    assert response.data == {"data": {"order": None, "customer": None}}
