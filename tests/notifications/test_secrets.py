"""Secrets and tokens are shown once: never kept by a cache (Cache-Control: no-store), and
never stored by Silk when it records the request that shows them."""

import base64
import json

import pytest
from django.test import Client
from django.urls import reverse
from silk.models import Profile, SQLQuery
from silk.models import Request as SilkRequest
from silk.models import Response as SilkResponse

from apps.core.services import api_token_create
from apps.monitoring import silk_sampling
from apps.monitoring.services.silk import silk_arm, silk_disarm
from apps.notifications import services
from apps.notifications.models import SigningSecret, WebhookEndpoint

pytestmark = pytest.mark.django_db

API = "/api/notifications"
CSRF_HEADER_VALUE = "csrf-token-from-a-header-3f9a1c"
ARMED = [
    "POST /api/notifications/signing-secret/rotate",
    "POST /api/notifications/endpoints",
    "POST /notifications/webhooks/",
    "POST /notifications/webhooks/signing-secret",
]


@pytest.fixture(autouse=True)
def nothing_armed():
    for endpoint in ARMED:
        silk_disarm(endpoint=endpoint)
    yield
    for endpoint in ARMED:
        silk_disarm(endpoint=endpoint)


def silk_stored() -> str:
    """Every text Silk stored, in every row of every table, with response raw bodies decoded."""
    parts: list[str] = []
    for model in (SilkRequest, SilkResponse, SQLQuery, Profile):
        for row in model.objects.all():
            for field in model._meta.concrete_fields:
                value = getattr(row, field.attname)
                if isinstance(value, str):
                    parts.append(value)
    for raw in SilkResponse.objects.values_list("raw_body", flat=True):
        if raw:
            parts.append(base64.b64decode(raw).decode("utf-8", errors="replace"))
    return "\n".join(parts)


def assert_recorded(path: str) -> SilkRequest:
    [recorded] = SilkRequest.objects.filter(path=path)
    assert SilkResponse.objects.filter(request=recorded).exists()
    return recorded


def assert_no_store(response) -> None:
    assert "no-store" in response["Cache-Control"]


# --- Cache-Control: no-store --------------------------------------------------------------


def test_api_endpoint_creation_is_no_store(alice_client, allow_private):
    response = alice_client.post(
        f"{API}/endpoints", {"url": "http://127.0.0.1:9/in"}, content_type="application/json"
    )
    assert response.status_code == 201 and response.json()["secret"].startswith("whsec_")
    assert_no_store(response)


def test_api_signing_secret_rotation_is_no_store(alice_client):
    response = alice_client.post(f"{API}/signing-secret/rotate")
    assert response.status_code == 200 and response.json()["secret"].startswith("whsec_")
    assert_no_store(response)


def test_page_showing_a_new_endpoints_secret_is_no_store(alice_client, allow_private):
    response = alice_client.post(reverse("notifications:webhooks"), {"url": "http://127.0.0.1:9/in"})
    assert WebhookEndpoint.objects.get().secret in response.content.decode()
    assert_no_store(response)


def test_page_showing_a_rotated_signing_secret_is_no_store(alice_client, alice):
    response = alice_client.post(reverse("notifications:signing_secret_rotate"))
    assert SigningSecret.objects.get(user=alice).secret in response.content.decode()
    assert_no_store(response)


# --- Silk ---------------------------------------------------------------------------------


def test_silk_recording_a_signing_secret_rotation_stores_no_secret(ops_client, ops):
    # The secret exists already: rotating it is an UPDATE, whose SQL Silk would record.
    services.signing_secret_rotate(user=ops)
    response = ops_client.post(
        f"{API}/signing-secret/rotate?access_token=query-secret-5d1e",
        headers={"X-Silk-Record": "1", "X-CSRFToken": CSRF_HEADER_VALUE},
    )
    secret = response.json()["secret"]
    assert secret == SigningSecret.objects.get(user=ops).secret

    recorded = assert_recorded("/api/notifications/signing-secret/rotate")
    assert SQLQuery.objects.filter(request=recorded).exists()
    stored = silk_stored()
    for value in (secret, CSRF_HEADER_VALUE, "query-secret-5d1e", ops_client.session.session_key):
        assert value not in stored
    assert "whsec_" not in stored
    assert recorded.response.body == silk_sampling.NOT_STORED


def test_silk_recording_an_endpoint_creation_stores_no_secret(alice, allow_private):
    silk_arm(endpoint="POST /api/notifications/endpoints", requests=1)
    _, token = api_token_create(user=alice)
    client = Client()
    response = client.post(
        f"{API}/endpoints",
        {"url": "http://127.0.0.1:9/in", "description": "ci"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201
    secret = response.json()["secret"]

    recorded = assert_recorded("/api/notifications/endpoints")
    stored = silk_stored()
    assert secret not in stored and token not in stored and "whsec_" not in stored
    # What holds no secret is still there to read.
    assert "127.0.0.1:9/in" in recorded.body


@pytest.mark.parametrize(
    ("endpoint", "path", "data"),
    [
        ("POST /notifications/webhooks/", "/notifications/webhooks/", {"url": "http://127.0.0.1:9/in"}),
        ("POST /notifications/webhooks/signing-secret", "/notifications/webhooks/signing-secret", {}),
    ],
)
def test_silk_recording_a_page_that_shows_a_secret_stores_no_secret(
    alice, allow_private, endpoint, path, data
):
    silk_arm(endpoint=endpoint, requests=1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(reverse("notifications:webhooks"))
    csrf = client.cookies["csrftoken"].value
    response = client.post(path, {**data, "csrfmiddlewaretoken": csrf}, headers={"X-CSRFToken": csrf})
    assert response.status_code == 200
    page = response.content.decode()
    secret = page[page.index("whsec_") :].split("<", 1)[0].split('"', 1)[0].strip()
    assert len(secret) > 20

    assert_recorded(path)
    stored = silk_stored()
    assert secret not in stored and csrf not in stored and "whsec_" not in stored
    assert client.session.session_key not in stored


def test_silk_masks_secrets_in_any_response_it_keeps(ops):
    # A future answer that shows a secret but forgets no-store: its body is kept, masked.
    request = SilkRequest.objects.create(
        path="/somewhere",
        method="GET",
        encoded_headers=json.dumps({"x-api-key": "k-123", "accept": "application/json"}),
        query_params=json.dumps({"page": "2", "token": "t-456"}),
        body="",
    )
    body = json.dumps({"name": "mine", "secret": "whsec_AAAABBBBCCCC", "note": "use whsec_DDDDEEEE"})
    SilkResponse.objects.create(
        request=request,
        status_code=200,
        encoded_headers=json.dumps({"Content-Type": "application/json", "Set-Cookie": "sessionid=s-789"}),
        body=body,
        raw_body=base64.b64encode(body.encode()).decode(),
    )
    stored = silk_stored()
    for value in ("k-123", "t-456", "s-789", "whsec_"):
        assert value not in stored
    assert '"mine"' in stored and '"page": "2"' in stored and "application/json" in stored
