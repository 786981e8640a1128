"""Login lockout (django-axes): per username and client address, both login forms."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.utils import timezone

from apps.core.access import client_address
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
LOCKED = "Too many failed attempts for this account from your address; try again in 15 minutes."


def fail(client: Client, url: str, username: str, times: int) -> list:
    return [client.post(url, {"username": username, "password": "wrong-password"}) for _ in range(times)]


def logged_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.mark.parametrize(("url", "persona"), [(LOGIN, "alice"), (ADMIN_LOGIN, "ops")])
def test_right_password_after_too_many_failures_is_refused_with_the_reason(client, alice, ops, url, persona):
    user = {"alice": alice, "ops": ops}[persona]
    responses = fail(client, url, persona, settings.LOGIN_FAILURE_LIMIT)
    assert [r.status_code for r in responses[:-1]] == [200] * (settings.LOGIN_FAILURE_LIMIT - 1)

    response = client.post(url, {"username": persona, "password": PASSWORD})

    assert response.status_code == 429
    assert LOCKED in response.text
    assert 840 < int(response["Retry-After"]) <= 900
    # The form is still there, saying why, not the "wrong password" text.
    assert 'name="password"' in response.text
    assert "correct username and password" not in response.text
    assert logged_in_as(client) is None
    user.refresh_from_db()
    assert user.last_login is None


def test_the_failure_that_reaches_the_limit_already_says_so(client, alice):
    responses = fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)

    assert responses[-1].status_code == 429
    assert LOCKED in responses[-1].text


def test_after_the_cool_off_the_right_password_logs_in(client, alice):
    fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert logged_in_as(client) == str(alice.pk)


def test_remaining_minutes_count_down_from_the_last_failure(client, alice):
    fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14, seconds=30))

    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert "try again in 1 minute." in response.text
    assert int(response["Retry-After"]) <= 30


def test_attempts_during_the_lockout_do_not_extend_it(client, alice):
    fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)
    before = AccessAttempt.objects.get()

    fail(client, LOGIN, "alice", 3)

    after = AccessAttempt.objects.get()
    assert after.failures_since_start == settings.LOGIN_FAILURE_LIMIT
    assert after.attempt_time == before.attempt_time


def test_a_success_before_the_limit_clears_the_count(client, alice):
    fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT - 1)
    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302
    client.post("/accounts/logout/")

    responses = fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT - 1)

    assert all(r.status_code == 200 for r in responses)
    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302


def test_lockout_is_per_address_and_per_username(client, alice, bob):
    fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)

    elsewhere = Client(REMOTE_ADDR="127.0.0.2")
    assert elsewhere.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.post(LOGIN, {"username": "bob", "password": PASSWORD}).status_code == 302


def test_unknown_usernames_are_locked_out_like_real_ones(client):
    # Otherwise the lockout would tell which accounts exist.
    responses = fail(client, LOGIN, "nobody-by-this-name", settings.LOGIN_FAILURE_LIMIT)

    assert responses[-1].status_code == 429
    assert LOCKED in responses[-1].text


def test_lockout_lives_in_the_database_and_survives_a_cache_flush(client, alice):
    fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)
    cache.clear()

    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 429


def test_operator_lifts_a_lockout_with_axes_reset_username(client, alice):
    fail(client, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)

    call_command("axes_reset_username", "alice", verbosity=0)

    assert client.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302


def test_force_login_and_authenticate_without_a_request_still_work(client, alice):
    # Tests, shells and scripts: there is no client address to count.
    assert authenticate(username="alice", password=PASSWORD) == alice
    client.force_login(alice)
    assert client.get("/jobs/").status_code == 200
    assert not AccessAttempt.objects.exists()


# --- The client address ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "127.0.0.9", "203.0.113.7", "127.0.0.9"),
        (1, "127.0.0.1", "203.0.113.66, 127.0.0.7", "127.0.0.7"),
        (2, "127.0.0.1", "203.0.113.66, 127.0.0.7, 127.0.0.8", "127.0.0.7"),
        (1, "127.0.0.1", "", "127.0.0.1"),
        (1, "127.0.0.1", "not-an-address", ""),
    ],
)
def test_client_address_believes_only_the_trusted_proxies(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == expected


def test_behind_a_proxy_the_lockout_counts_the_forwarded_address(settings, alice):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = Client(HTTP_X_FORWARDED_FOR="127.0.0.66")
    fail(attacker, LOGIN, "alice", settings.LOGIN_FAILURE_LIMIT)

    # Same balancer address (REMOTE_ADDR), another client behind it.
    user = Client(HTTP_X_FORWARDED_FOR="127.0.0.77")
    assert user.post(LOGIN, {"username": "alice", "password": PASSWORD}).status_code == 302
    assert AccessAttempt.objects.get().ip_address == "127.0.0.66"
