"""/graphql authenticates as /api/ does: a bearer token, or a session whose POSTs carry CSRF."""

import secrets

import pytest
from django.test import Client

from apps.core.services import api_token_create
from apps.jobs.models import Job
from tests.graphql_api.conftest import GRAPHQL_URL, bearer_for, graphql

pytestmark = pytest.mark.django_db

WHO = "{ jobs { id } }"


def test_anonymous_gets_401_with_the_apis_message():
    response = graphql(Client(), WHO)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.data["errors"] == [
        {
            "message": "Authentication required: log in or send 'Authorization: Bearer <token>'.",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]


def test_anonymous_mutation_changes_nothing(alice):
    response = graphql(Client(), 'mutation { submitJob(kind: "diagnostics.noop") { id } }')

    assert response.status_code == 401
    assert not Job.objects.exists()


def test_bearer_token_is_accepted_without_a_session_or_csrf(alice):
    client = Client(enforce_csrf_checks=True)

    response = graphql(client, WHO, **bearer_for(alice))

    assert response.status_code == 200, response.content
    assert response.data == {"data": {"jobs": []}}


@pytest.mark.parametrize("header", ["Bearer tempo_not-a-real-token", "Basic YWxpY2U6eA==", "Bearer "])
def test_a_wrong_authorization_header_is_401_even_with_a_session(alice, header):
    client = Client()
    client.force_login(alice)

    response = graphql(client, WHO, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert "bearer token is unknown, expired or revoked" in response.data["errors"][0]["message"]


def test_token_of_a_deactivated_user_is_401(alice):
    _, raw = api_token_create(user=alice)
    alice.is_active = False
    alice.save()

    assert graphql(Client(), WHO, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_session_post_without_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = graphql(client, WHO)

    assert response.status_code == 403
    assert response.data["errors"][0]["extensions"]["code"] == "CSRF_FAILED"
    assert "X-CSRFToken" in response.data["errors"][0]["message"]


def test_session_post_with_csrf_token_is_accepted(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    # As a browser would: a page sets the CSRF cookie, the request echoes it in a header.
    client.get("/")

    response = graphql(client, WHO, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    assert response.status_code == 200, response.content
    assert response.data == {"data": {"jobs": []}}


def test_a_session_mutation_without_csrf_changes_nothing(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = graphql(client, 'mutation { submitJob(kind: "diagnostics.noop") { id } }')

    assert response.status_code == 403
    assert not Job.objects.exists()


def test_queries_are_not_taken_by_get(alice_client):
    response = alice_client.get(GRAPHQL_URL, {"query": WHO}, HTTP_ACCEPT="application/json")

    assert response.status_code == 400, response.content
    assert response.content == b"queries are not allowed when using GET"


def test_wrong_tokens_past_the_limit_are_refused_with_429(alice, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 2
    # An address of its own: the failures counted here (for the window) touch no other test.
    guesser = Client(REMOTE_ADDR=f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250)}.7")
    statuses = [
        graphql(guesser, WHO, HTTP_AUTHORIZATION=f"Bearer tempo_guess{n}").status_code for n in range(2)
    ]

    refused = graphql(guesser, WHO, **bearer_for(alice))

    assert statuses == [401, 401]
    assert refused.status_code == 429
    assert refused.data["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
    assert refused.data["errors"][0]["message"].startswith("Too many requests with a wrong API token")
    assert 0 < int(refused["Retry-After"]) <= settings.API_TOKEN_FAILURE_WINDOW
