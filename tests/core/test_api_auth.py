"""API authentication: sessions (with CSRF) or personal tokens, and errors as JSON."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI

from apps.core.api import api_auth, install_error_handlers
from apps.core.models import ApiToken, token_digest
from apps.core.services import api_token_create
from config import urls as project_urls
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ORDERS_URL = "/api/commerce/orders"

# The commerce API has no unsafe endpoint yet, so CSRF is checked on a probe API with
# the project's authentication and error handlers, mounted by the tests that need it.
probe_api = NinjaAPI(auth=api_auth, urls_namespace="csrf-probe")
install_error_handlers(probe_api)


@probe_api.post("/echo")
def echo(request):
    return {"user": request.user.get_username()}


urlpatterns = [path("probe/", probe_api.urls), *project_urls.urlpatterns]


def bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_anonymous_gets_401_with_a_message(client):
    response = client.get(ORDERS_URL)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "message": "Authentication required: log in or send 'Authorization: Bearer <token>'."
    }


def test_valid_token_is_accepted_and_marks_its_last_use(client, alice):
    token, raw = api_token_create(user=alice)
    response = client.get(ORDERS_URL, **bearer(raw))
    assert response.status_code == 200, response.content
    assert response.json() == {"items": [], "next": None, "next_url": None}
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize("raw", ["tempo_not-a-real-token", "not-even-our-prefix", ""])
def test_bad_token_gets_401(client, alice, raw):
    api_token_create(user=alice)
    response = client.get(ORDERS_URL, **bearer(raw))
    assert response.status_code == 401
    assert "Authentication required" in response.json()["message"]


def test_expired_token_gets_401(client, alice):
    _, raw = api_token_create(user=alice, expires_at=timezone.now() - timedelta(minutes=1))
    assert client.get(ORDERS_URL, **bearer(raw)).status_code == 401


def test_token_of_a_deactivated_user_gets_401(client, alice):
    _, raw = api_token_create(user=alice)
    alice.is_active = False
    alice.save()
    assert client.get(ORDERS_URL, **bearer(raw)).status_code == 401


def test_session_is_accepted_for_reads(alice_client):
    assert alice_client.get(ORDERS_URL).status_code == 200


@pytest.mark.urls(__name__)
def test_session_post_without_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/probe/echo")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


@pytest.mark.urls(__name__)
def test_session_post_with_csrf_token_is_accepted(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    # As a browser would: a page sets the CSRF cookie, the request echoes it in a header.
    client.get("/")
    response = client.post("/probe/echo", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200, response.content
    assert response.json() == {"user": "alice"}


@pytest.mark.urls(__name__)
def test_token_post_needs_no_csrf_token(alice):
    _, raw = api_token_create(user=alice)
    client = Client(enforce_csrf_checks=True)
    response = client.post("/probe/echo", **bearer(raw))
    assert response.status_code == 200, response.content
    assert response.json() == {"user": "alice"}


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    body = schema.json()
    assert body["info"]["title"] == "Tempo API"
    assert {
        "/api/commerce/orders",
        "/api/commerce/orders/{order_id}",
        "/api/commerce/customers/{customer_id}",
    } <= set(body["paths"])
    assert set(body["components"]["securitySchemes"]) == {"TokenAuth", "SessionAuth"}
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"/api/openapi.json" in docs.content


# --- Issuing tokens ---------------------------------------------------------------


def test_create_api_token_prints_a_working_token_once_and_stores_only_its_digest(client, alice):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "alice", "--name", "laptop", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("tempo_")
    assert "not shown again" in err.getvalue()
    token = ApiToken.objects.get(user=alice)
    assert token.name == "laptop"
    assert token.digest == token_digest(raw)
    stored = ApiToken.objects.filter(pk=token.pk).values_list("name", "hint", "digest").get()
    assert all(raw not in value for value in stored)
    assert client.get(ORDERS_URL, **bearer(raw)).status_code == 200


def test_create_api_token_for_an_unknown_user_is_a_command_error():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody")
    assert not ApiToken.objects.exists()


def test_staff_creates_a_token_in_the_admin_and_sees_it_once(client, ops, alice):
    ops.user_permissions.add(*Permission.objects.filter(codename__in=["add_apitoken", "view_apitoken"]))
    client.login(username="ops", password=PASSWORD)
    response = client.post(
        "/admin/core/apitoken/add/",
        {"user": alice.pk, "name": "ci", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    assert len(messages) >= 1
    raw = re.search(r"(tempo_\S+)", " ".join(messages)).group(1)
    token = ApiToken.objects.get(user=alice, name="ci")
    assert token.digest == token_digest(raw)
    assert raw[len("tempo_") :].startswith(token.hint)
    # The list and the change page never show it again.
    assert raw not in client.get("/admin/core/apitoken/").content.decode()
    assert raw not in client.get(f"/admin/core/apitoken/{token.pk}/change/").content.decode()
    assert Client().get(ORDERS_URL, **bearer(raw)).status_code == 200
