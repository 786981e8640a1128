"""Every error under /api/ is JSON with a message, and the right status (DEBUG off)."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import path
from ninja import NinjaAPI

from apps.core.api import api_auth, install_error_handlers
from config import urls as project_urls

pytestmark = pytest.mark.django_db

# A probe API under /api/ whose operation fails, mounted by the test that needs it.
failing_api = NinjaAPI(auth=api_auth, urls_namespace="failing-probe")
install_error_handlers(failing_api)


@failing_api.get("/boom")
def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("api/probe/", failing_api.urls), *project_urls.urlpatterns]


def assert_json_error(response, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    message = response.json()["message"]
    assert message
    return message


@pytest.mark.parametrize(
    "path", ["/api/nothing-here", "/api/jobs/1/2/3", "/api/notifications/endpoints/not-a-uuid"]
)
def test_unknown_paths_are_json_404(alice_client, path):
    message = assert_json_error(alice_client.get(path), 404)
    assert message.startswith("Not found")


def test_a_method_the_operation_lacks_is_json_405_with_allow(alice_client):
    response = alice_client.delete("/api/commerce/orders")

    message = assert_json_error(response, 405)
    assert message == "Method not allowed: DELETE /api/commerce/orders accepts GET."
    assert response["Allow"] == "GET"


def test_a_body_over_the_limit_is_json_413_unread(alice_client):
    body = b'{"kind": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'

    response = alice_client.post("/api/jobs", body, content_type="application/json")

    message = assert_json_error(response, 413)
    assert "more than the limit of 2.5\xa0MB" in message


def test_a_form_over_the_limit_is_413_on_pages_too(alice_client):
    body = "q=" + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = alice_client.post("/jobs/", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_is_json_500_and_logged(alice, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(alice)

    response = client.get("/api/probe/boom")

    message = assert_json_error(response, 500)
    assert message == "Internal server error: it was logged; try again later."
    assert "a bug" not in response.text
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


def test_pages_outside_the_api_keep_html_errors(alice_client):
    response = alice_client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- Who is asking ----------------------------------------------------------------------


ENDPOINT = "/api/notifications/endpoints/00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/jobs"),
        ("put", "/api/notifications/preferences"),
        ("patch", ENDPOINT),
        ("delete", ENDPOINT),
    ],
)
def test_anonymous_unsafe_calls_are_401_not_a_csrf_403(method, path):
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(path, {}, content_type="application/json")

    message = assert_json_error(response, 401)
    assert message.startswith("Authentication required")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_logged_in_unsafe_call_without_csrf_token_is_still_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post("/api/jobs", {"kind": "diagnostics.noop"}, content_type="application/json")

    assert_json_error(response, 403)
    assert "CSRF" in response.json()["message"]


@pytest.mark.parametrize(
    "header",
    ["Bearer tempo_wrong-token", "Bearer ", "Basic YWxpY2U6cGFzc3dvcmQ=", "tempo_no-scheme"],
)
def test_a_wrong_authorization_header_is_401_even_with_a_valid_session(alice_client, header):
    response = alice_client.get("/api/commerce/orders", HTTP_AUTHORIZATION=header)

    message = assert_json_error(response, 401)
    assert "bearer token is unknown, expired or revoked" in message
