"""Signed-cookie sessions that the server can still end, and the cached session user."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.models import ApiToken
from apps.core.services import api_token_create
from apps.core.session_users import GENERATION_KEY, user_entry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PROBE = "/api/notifications"


@pytest.fixture(autouse=True)
def _signed_cookie_sessions(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    settings.USER_CACHE_SECONDS = 60


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def replay(cookie: str) -> Client:
    """Another browser holding a copy of a session cookie."""
    client = Client()
    client.cookies["sessionid"] = cookie
    return client


def user_queries(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PROBE).status_code == 200
    return [q["sql"] for q in queries.captured_queries if '"auth_user"' in q["sql"]]


def test_the_session_is_a_signed_cookie_with_its_generation(alice):
    client = logged_in(alice)
    assert client.session.session_key == client.cookies["sessionid"].value
    assert client.session[GENERATION_KEY] == 0
    assert replay(client.cookies["sessionid"].value).get(PROBE).status_code == 200


def test_a_cookie_replayed_after_logout_is_refused(alice):
    client = logged_in(alice)
    copied = client.cookies["sessionid"].value
    client.post("/accounts/logout/")
    assert client.get(PROBE).status_code == 401
    assert replay(copied).get(PROBE).status_code == 401
    # Logging in again works, with a newer generation the old cookie does not carry.
    again = logged_in(alice)
    assert again.get(PROBE).status_code == 200
    assert again.session[GENERATION_KEY] == 1
    assert replay(copied).get(PROBE).status_code == 401


def test_logout_ends_the_sessions_of_every_device(alice, bob):
    laptop, phone, other = logged_in(alice), logged_in(alice), logged_in(bob)
    laptop.post("/accounts/logout/")
    assert phone.get(PROBE).status_code == 401
    assert other.get(PROBE).status_code == 200


def test_a_password_change_ends_the_other_sessions(alice):
    client = logged_in(alice)
    copied = logged_in(alice).cookies["sessionid"].value
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "An0ther-long-phrase",
            "new_password2": "An0ther-long-phrase",
        },
    )
    assert response.status_code == 302
    assert client.get(PROBE).status_code == 200
    assert replay(copied).get(PROBE).status_code == 401


def test_a_password_set_elsewhere_ends_the_sessions(alice):
    client = logged_in(alice)
    assert client.get(PROBE).status_code == 200
    alice.set_password("Set-by-an-admin-9")
    alice.save()
    assert client.get(PROBE).status_code == 401


def test_a_logged_in_request_reads_the_user_from_the_cache(alice):
    client = logged_in(alice)
    client.get(PROBE)
    assert user_queries(client) == []


def test_without_the_user_cache_the_user_is_read_each_time(alice, settings):
    client = logged_in(alice)
    settings.USER_CACHE_SECONDS = 0
    assert len(user_queries(client)) == 1


def test_deactivating_a_user_ends_its_sessions_at_once(alice):
    client = logged_in(alice)
    assert client.get(PROBE).status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get(PROBE).status_code == 401


def test_staff_status_is_seen_at_once(alice):
    client = logged_in(alice)
    assert client.get("/monitoring/").status_code in (302, 403)
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    assert client.get("/monitoring/").status_code == 200


def cached(user) -> bool:
    return cache.get(f"auth:user:{user.pk}") is not None


def test_group_and_permission_changes_drop_the_cached_user(alice, bob):
    group = Group.objects.create(name="auditors")
    permission = Permission.objects.get(codename="view_apitoken")
    for change in (
        lambda: alice.groups.add(group),
        lambda: alice.user_permissions.add(permission),
        lambda: group.permissions.add(permission),
        lambda: alice.user_permissions.remove(permission),
        lambda: group.user_set.remove(alice),
        lambda: group.user_set.add(alice, bob),
        lambda: permission.group_set.clear(),
        lambda: alice.groups.clear(),
    ):
        user_entry(alice.pk)
        assert cached(alice)
        change()
        assert not cached(alice), change
    assert alice.has_perm("core.view_apitoken") is False


class FailingCache:
    def __getattr__(self, name):
        def down(*args, **kwargs):
            raise ConnectionError("cache down")

        return down


def test_a_failing_cache_still_serves_logins_and_pages(alice, monkeypatch):
    """Our reads and invalidations of the user cache fall back to the database (other
    caches' failures are the caching layer's to soften)."""
    client = logged_in(alice)
    monkeypatch.setattr("apps.core.session_users.cache", FailingCache())
    assert client.get(PROBE).status_code == 200
    assert logged_in(alice).get(PROBE).status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get(PROBE).status_code == 401
    assert client.post("/accounts/logout/").status_code == 302


def token_client(user) -> tuple[Client, ApiToken]:
    token, raw = api_token_create(user=user)
    return Client(headers={"Authorization": f"Bearer {raw}"}), token


def test_a_token_request_reads_token_and_user_from_the_cache(alice):
    client, _ = token_client(alice)
    # The first use writes last_used_at, which drops the cached row (read again next time).
    for _ in range(2):
        assert client.get(PROBE).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PROBE).status_code == 200
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"core_apitoken"' not in tables and '"auth_user"' not in tables


def test_a_deleted_token_is_refused_at_once(alice):
    client, token = token_client(alice)
    assert client.get(PROBE).status_code == 200
    token.delete()
    assert client.get(PROBE).status_code == 401


def test_a_token_given_an_expiry_in_the_past_is_refused_at_once(alice):
    client, token = token_client(alice)
    assert client.get(PROBE).status_code == 200
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save(update_fields=["expires_at"])
    assert client.get(PROBE).status_code == 401


def test_the_token_of_a_deactivated_user_is_refused_at_once(alice):
    client, _ = token_client(alice)
    assert client.get(PROBE).status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get(PROBE).status_code == 401
