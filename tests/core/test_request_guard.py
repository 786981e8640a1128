"""Input the database cannot store is refused at the edge: a 4xx with a message, never a 500."""

import json
import uuid

import pytest
from django.test import Client

from apps.jobs.models import Job

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "Invalid input: text may not contain NUL characters (\\u0000)."


API_PATHS_WITH_NUL = [
    "/api/jobs?kind=a%00b",
    "/api/reports?report=a%00b",
    "/api/jobs?a%00b=1",
    "/api/notifications/deliveries?limit=%00",
]
PAGE_PATHS_WITH_NUL = [
    "/admin/jobs/job/?status__exact=%00",
    "/silk/requests/?path=%00",
    "/jobs/?kind=%00",
    "/orders/?q=%00",
]


@pytest.mark.parametrize("path", API_PATHS_WITH_NUL)
def test_nul_in_an_api_query_is_a_json_400(alice_client, path):
    response = alice_client.get(path)

    assert response.status_code == 400
    assert response.json() == {"message": NUL_MESSAGE}


@pytest.mark.parametrize("path", PAGE_PATHS_WITH_NUL)
def test_nul_in_a_page_query_is_a_plain_400(ops_client, path):
    response = ops_client.get(path)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.text == NUL_MESSAGE + "\n"


def test_nul_in_a_form_field_is_a_400_before_the_view(client, alice):
    response = client.post("/accounts/login/", {"username": "alice\x00", "password": "x"})
    urlencoded = client.post(
        "/accounts/login/", "username=alice%00&password=x", content_type="application/x-www-form-urlencoded"
    )

    assert urlencoded.status_code == 400
    assert urlencoded.text == NUL_MESSAGE + "\n"
    # The test client's default (multipart) form is not read by the guard; the login form
    # still refuses the NUL itself (Django's form validation), without a 500.
    assert response.status_code == 200


def test_nul_in_the_session_cookie_is_a_400_not_a_database_error(alice):
    client = Client(HTTP_COOKIE='sessionid="abcdefgh\\000ijk"')

    response = client.get("/jobs/")

    assert response.status_code == 400
    assert response.text == NUL_MESSAGE + "\n"


def test_nul_in_the_path_is_a_400(alice_client):
    response = alice_client.get("/api/reports/a%00b")

    assert response.status_code == 400
    assert response.json() == {"message": NUL_MESSAGE}


# --- JSON bodies ---------------------------------------------------------------------


def test_nul_in_a_json_string_is_a_422(alice_client, published):
    body = {"kind": "diagnostics.noop", "idempotency_key": "a\x00b"}

    response = alice_client.post("/api/jobs", body, content_type="application/json")

    assert response.status_code == 422
    assert response.json() == {"message": NUL_MESSAGE}
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "diagnostics.noop", "params": {"nested": ["ok", {"deeper": "x\x00"}]}},
        {"kind": "diagnostics.noop", "params": {"key\x00": 1}},
    ],
    ids=["nested-value", "key"],
)
def test_nul_anywhere_in_a_json_body_is_a_422(alice_client, published, body):
    response = alice_client.post("/api/jobs", body, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["message"] == NUL_MESSAGE


def test_unpaired_surrogate_in_a_json_string_is_a_422(alice_client, published):
    body = '{"kind": "diagnostics.noop", "idempotency_key": "a\\ud800b"}'

    response = alice_client.post("/api/jobs", body, content_type="application/json")

    assert response.status_code == 422
    assert "unpaired surrogates" in response.json()["message"]


def test_nul_in_a_patched_endpoint_description_is_a_422(alice_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    created = alice_client.post(
        "/api/notifications/endpoints",
        {"url": "http://127.0.0.1:9/hook", "description": "mine"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    url = f"/api/notifications/endpoints/{created.json()['id']}"

    response = alice_client.patch(url, json.dumps({"description": "a\x00b"}), content_type="application/json")

    assert response.status_code == 422
    assert response.json() == {"message": NUL_MESSAGE}
    assert alice_client.get(url).json()["description"] == "mine"


def test_malformed_json_is_still_a_400_with_a_message(alice_client):
    response = alice_client.post("/api/jobs", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["message"].startswith("Cannot parse request body")


# --- Silk's detail pages ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/silk/request/{id}/",
        "/silk/request/{id}/sql/",
        "/silk/request/{id}/sql/1/",
        "/silk/request/{id}/raw/?typ=request&subtyp=raw",
        "/silk/request/{id}/profiling/",
        "/silk/request/{id}/cprofile/",
        "/silk/request/{id}/profile/1/",
        "/silk/profile/1/",
        "/silk/profile/99999999999999999999/",
    ],
)
def test_silk_pages_of_unknown_records_are_404(ops_client, path):
    response = ops_client.get(path.format(id=uuid.uuid4()))

    assert response.status_code == 404


def test_silk_pages_stay_staff_only(alice_client):
    response = alice_client.get(f"/silk/request/{uuid.uuid4()}/")

    assert response.status_code in (302, 403)
