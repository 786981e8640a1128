"""What a document may ask for (depth, size, aliases), introspection and GraphiQL for
staff only in production, and bad bodies refused cleanly."""

import json

import pytest
from django.test import Client

from apps.graphql_api import selectors
from apps.graphql_api.limits import UNEXPECTED
from apps.jobs.models import Job
from tests.graphql_api.conftest import GRAPHQL_URL, graphql

pytestmark = pytest.mark.django_db

INTROSPECTION = "{ __schema { queryType { name } } }"


def only_error(response) -> str:
    assert response.status_code == 200, response.content
    assert response.data.get("data") is None
    (error,) = response.data["errors"]
    return error["message"]


def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(
    counted_client, settings, django_assert_max_num_queries
):
    settings.GRAPHQL_MAX_DEPTH = 2
    # The session's user only: nothing of the document runs.
    with django_assert_max_num_queries(1):
        response = graphql(counted_client, "{ reportRuns { job { attempts { number } } } }")

    assert only_error(response) == "'anonymous' exceeds maximum operation depth of 2"


def test_a_query_within_the_depth_limit_runs(alice_client, settings):
    settings.GRAPHQL_MAX_DEPTH = 3

    response = graphql(alice_client, "{ reportRuns { job { attempts { number } } } }")

    assert response.data == {"data": {"reportRuns": []}}


def test_a_document_with_too_many_tokens_is_refused(alice_client, settings):
    settings.GRAPHQL_MAX_TOKENS = 50
    fields = " ".join(["id"] * 60)

    response = graphql(alice_client, "{ jobs { " + fields + " } }")

    assert only_error(response) == "Syntax Error: Document contains more than 50 tokens. Parsing aborted."


def test_too_many_aliases_are_refused(alice_client, settings):
    settings.GRAPHQL_MAX_ALIASES = 3
    aliased = " ".join(f"a{number}: orders(first: 500) {{ id }}" for number in range(4))

    response = graphql(alice_client, "{ " + aliased + " }")

    assert only_error(response) == "4 aliases found. Allowed: 3"


def test_introspection_is_refused_to_users_in_production(alice_client, settings):
    settings.DEBUG = False

    response = graphql(alice_client, INTROSPECTION)

    assert response.data["data"] is None
    assert response.data["errors"][0]["message"] == (
        "GraphQL introspection has been disabled, but the requested query contained the field '__schema'."
    )


def test_type_introspection_is_refused_too(alice_client, settings):
    settings.DEBUG = False

    message = only_error(graphql(alice_client, '{ __type(name: "Job") { name } }'))

    assert message.startswith("GraphQL introspection has been disabled")


def test_staff_may_introspect_in_production(ops_client, settings):
    settings.DEBUG = False

    response = graphql(ops_client, INTROSPECTION)

    assert response.data == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_anyone_logged_in_may_introspect_while_debugging(alice_client, settings):
    settings.DEBUG = True

    assert graphql(alice_client, INTROSPECTION).data == {
        "data": {"__schema": {"queryType": {"name": "Query"}}}
    }


def test_typename_is_not_introspection(alice_client, settings):
    settings.DEBUG = False

    assert graphql(alice_client, "{ __typename }").data == {"data": {"__typename": "Query"}}


def open_graphiql(client):
    return client.get(GRAPHQL_URL, HTTP_ACCEPT="text/html")


def test_graphiql_is_404_for_users_in_production(alice_client, settings):
    settings.DEBUG = False

    response = open_graphiql(alice_client)

    assert response.status_code == 404
    assert response.json()["errors"][0]["message"] == "GraphiQL is for staff; POST your queries to /graphql."


def test_graphiql_is_served_to_staff_with_its_scripts_allowed_on_that_page_only(ops_client, settings):
    settings.DEBUG = False

    response = open_graphiql(ops_client)

    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "https://unpkg.com" in policy
    assert "unsafe-inline" not in policy
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<script nonce="{nonce}">'.encode() in response.content
    assert "https://unpkg.com" not in ops_client.get("/")["Content-Security-Policy"]


def test_graphiql_sets_the_csrf_cookie_its_requests_send_back(ops, settings):
    settings.DEBUG = False
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops)

    page = open_graphiql(client)
    token = page.cookies["csrftoken"].value
    response = graphql(client, "{ __typename }", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    assert response.data == {"data": {"__typename": "Query"}}


def test_graphiql_needs_a_login(settings):
    settings.DEBUG = True

    assert open_graphiql(Client()).status_code == 401


# --- Bad bodies -------------------------------------------------------------------------


def post_raw(client, body: bytes, content_type: str = "application/json"):
    return client.post(GRAPHQL_URL, body, content_type=content_type)


def test_a_nul_in_the_variables_is_422_and_stores_nothing(alice_client):
    body = {
        "query": 'mutation($p: JSON) { submitJob(kind: "diagnostics.noop", params: $p) { id } }',
        "variables": {"p": {"note": "a\x00b"}},
    }

    # json.dumps writes the NUL as \u0000, as any client would.
    response = post_raw(alice_client, json.dumps(body).encode())

    assert response.status_code == 422
    assert "NUL" in response.json()["errors"][0]["message"]
    assert not Job.objects.exists()


def test_a_nul_under_any_json_content_type_is_422(alice_client):
    body = json.dumps({"query": "{ jobs { id } }", "variables": {"x": "\x00"}}).encode()

    response = post_raw(alice_client, body, content_type="application/json+graphql")

    assert response.status_code == 422


def test_a_batch_of_operations_is_refused(alice_client):
    batch = [{"query": "{ jobs { id } }"}] * 2

    response = post_raw(alice_client, json.dumps(batch).encode())

    assert response.status_code == 400


def test_a_nul_in_the_query_is_422(alice_client):
    response = post_raw(alice_client, b'{"query": "{ jobs { id\\u0000 } }"}')

    assert response.status_code == 422


def test_a_body_over_the_upload_limit_is_413_unread(alice_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    huge = json.dumps({"query": "{ jobs { id } }", "variables": {"pad": "x" * 5000}}).encode()

    response = post_raw(alice_client, huge)

    assert response.status_code == 413


def test_a_body_that_is_not_json_is_400(alice_client):
    response = post_raw(alice_client, b"{not json")

    assert response.status_code == 400
    assert response.content == b"Unable to parse request body as JSON"


def test_a_document_that_is_not_graphql_is_a_syntax_error(alice_client):
    message = only_error(graphql(alice_client, "jobs { id"))

    assert message.startswith("Syntax Error")


def test_an_unexpected_failure_is_reported_without_its_details_and_logged_with_them(
    alice_client, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("password=hunter2 at db.internal")

    monkeypatch.setattr(selectors, "orders_slice", broken)

    response = graphql(alice_client, "{ orders { id } }")

    assert response.data["errors"][0]["message"] == UNEXPECTED
    assert b"hunter2" not in response.content
    assert "hunter2" in caplog.text


def test_a_refusal_is_an_answer_not_a_logged_error(alice_client, caplog):
    response = graphql(alice_client, "{ jobs(first: 0) { id } }")

    assert response.data["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert not [record for record in caplog.records if record.name.startswith("strawberry")]
