"""GET /api/reports?ids=: several runs polled in one request, with the list's access rule."""

import uuid

import pytest
from django.test import Client

from apps.reports import services
from apps.reports.api import RUN_MAX_IDS

pytestmark = pytest.mark.django_db

RUNS_URL = "/api/reports"


def run_of(owner):
    return services.report_run_create(owner=owner, report="pricing_summary", params={}, format="csv")


def ids_of(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


def test_owner_gets_the_runs_asked_for_in_the_order_asked(alice_client, alice):
    first, second, third = run_of(alice), run_of(alice), run_of(alice)

    response = alice_client.get(RUNS_URL, {"ids": f"{third.uuid},{first.uuid}"})

    assert response.status_code == 200, response.content
    assert ids_of(response) == [str(third.uuid), str(first.uuid)]
    assert response.json()["next"] is None
    assert str(second.uuid) not in ids_of(response)


def test_another_users_and_unknown_runs_are_simply_absent(client, alice, bob):
    mine, theirs = run_of(bob), run_of(alice)
    client.force_login(bob)

    response = client.get(RUNS_URL, {"ids": f"{theirs.uuid},{uuid.uuid4()},{mine.uuid}"})

    assert response.status_code == 200
    assert ids_of(response) == [str(mine.uuid)]


def test_staff_gets_anyones_runs(ops_client, alice, bob):
    runs = [run_of(alice), run_of(bob)]

    response = ops_client.get(RUNS_URL, {"ids": ",".join(str(run.uuid) for run in runs)})

    assert ids_of(response) == [str(run.uuid) for run in runs]


def test_a_repeated_id_is_listed_once(alice_client, alice):
    run = run_of(alice)

    response = alice_client.get(RUNS_URL, {"ids": f"{run.uuid}, {run.uuid},"})

    assert ids_of(response) == [str(run.uuid)]


def test_an_id_that_is_not_a_uuid_is_422_naming_it(alice_client, alice):
    run = run_of(alice)

    response = alice_client.get(RUNS_URL, {"ids": f"{run.uuid},42"})

    assert response.status_code == 422
    assert response.json()["message"] == "Invalid input: ids: '42' is not a report run id (a UUID)."


def test_more_ids_than_the_maximum_is_422(alice_client):
    ids = ",".join(str(uuid.uuid4()) for _ in range(RUN_MAX_IDS + 1))

    response = alice_client.get(RUNS_URL, {"ids": ids})

    assert response.status_code == 422
    assert f"at most {RUN_MAX_IDS} runs" in response.json()["message"]


@pytest.mark.parametrize("other", [{"report": "pricing_summary"}, {"limit": 5}, {"cursor": "x"}])
def test_ids_cannot_be_combined_with_the_list_parameters(alice_client, other):
    response = alice_client.get(RUNS_URL, {"ids": str(uuid.uuid4()), **other})

    assert response.status_code == 422
    assert "ids cannot be combined with" in response.json()["message"]


def test_anonymous_gets_401(alice):
    run = run_of(alice)

    assert Client().get(RUNS_URL, {"ids": str(run.uuid)}).status_code == 401


def test_many_runs_cost_one_query_for_the_runs(alice_client, alice, settings, django_assert_max_num_queries):
    settings.REPORTS_USER_MAX_ACTIVE = settings.JOBS_USER_MAX_ACTIVE = 50
    runs = [run_of(alice) for _ in range(20)]
    ids = ",".join(str(run.uuid) for run in runs)

    # The session, its user and the runs with their jobs: not one query per run.
    with django_assert_max_num_queries(3):
        response = alice_client.get(RUNS_URL, {"ids": ids})

    assert len(ids_of(response)) == 20


def test_the_openapi_description_documents_ids(alice_client):
    schema = alice_client.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/reports"]["get"]

    assert "ids" in [parameter["name"] for parameter in operation["parameters"]]
    assert "one request polls several runs" in operation["description"]
