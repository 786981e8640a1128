"""Abuse limits on the other ways in: password reset requests and wrong API tokens."""

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from apps.core.models import ApiToken
from apps.core.services import api_token_create

pytestmark = pytest.mark.django_db

RESET = "/accounts/password_reset/"
ORDERS = "/api/commerce/orders"


@pytest.fixture(autouse=True)
def _fresh_counts():
    # Limits count in the shared cache; windows outlive a test.
    cache.clear()
    yield
    cache.clear()


# --- Password reset --------------------------------------------------------------------


def test_password_reset_for_one_email_is_limited_per_hour(client, alice, settings):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 2
    sent = [client.post(RESET, {"email": "alice@example.com"}) for _ in range(2)]
    assert [r.status_code for r in sent] == [302, 302]
    assert len(mail.outbox) == 2

    response = client.post(RESET, {"email": "Alice@Example.com "})

    assert response.status_code == 429
    assert "Too many password reset requests for this e-mail address; try again in" in response.text
    assert 0 < int(response["Retry-After"]) <= 3600
    assert len(mail.outbox) == 2


def test_password_reset_from_one_address_is_limited_per_hour(client, alice, settings):
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 3
    for number in range(3):
        assert client.post(RESET, {"email": f"someone{number}@example.com"}).status_code == 302

    response = client.post(RESET, {"email": "alice@example.com"})

    assert response.status_code == 429
    assert "Too many password reset requests from your address" in response.text
    assert mail.outbox == []
    # Another client address is not held back by this one.
    other = Client(REMOTE_ADDR="127.0.0.2")
    assert other.post(RESET, {"email": "alice@example.com"}).status_code == 302
    assert len(mail.outbox) == 1


def test_password_reset_answers_alike_for_unknown_addresses(client, alice, settings):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 1
    known = [client.post(RESET, {"email": "alice@example.com"}).status_code for _ in range(2)]
    unknown = [client.post(RESET, {"email": "nobody@example.com"}).status_code for _ in range(2)]

    assert known == unknown == [302, 429]


# --- Bearer tokens --------------------------------------------------------------------


def test_wrong_tokens_from_one_address_are_refused_with_429_after_the_limit(alice, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 3
    _, raw = api_token_create(user=alice)
    guesser = Client()
    statuses = [
        guesser.get(ORDERS, HTTP_AUTHORIZATION=f"Bearer tempo_guess{n}").status_code for n in range(3)
    ]
    assert statuses == [401, 401, 401]

    refused = guesser.get(ORDERS, HTTP_AUTHORIZATION="Bearer tempo_guess4")
    # From the refused address even the right token waits: the token is not even looked up.
    right_but_refused = guesser.get(ORDERS, HTTP_AUTHORIZATION=f"Bearer {raw}")

    for response in (refused, right_but_refused):
        assert response.status_code == 429
        assert response.json()["message"].startswith("Too many requests with a wrong API token")
        assert 0 < int(response["Retry-After"]) <= settings.API_TOKEN_FAILURE_WINDOW
    assert ApiToken.objects.get().last_used_at is None
    # Other addresses, and sessions, are not affected.
    assert Client(REMOTE_ADDR="127.0.0.2").get(ORDERS, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    guesser.force_login(alice)
    assert guesser.get(ORDERS).status_code == 200


def test_right_tokens_are_never_counted(alice, settings):
    settings.API_TOKEN_FAILURE_LIMIT = 2
    _, raw = api_token_create(user=alice)
    client = Client()

    statuses = [client.get(ORDERS, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code for _ in range(5)]

    assert statuses == [200] * 5
