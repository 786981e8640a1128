"""Personas and service fixtures shared by the whole suite.

alice owns things, bob is another ordinary user, ops is staff.
"""

import ipaddress
import os
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.commerce.services import dataset_generate
from apps.jobs import broker

PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config) -> None:
    # The suite flushes the monitoring recorder itself. Its background thread would write
    # from a connection of its own while tests hold the database (on SQLite: "database
    # table is locked" when a test flushes), and a request made while tests are collected
    # (the hardening suite loads the OpenAPI schema from the app) comes before Django's
    # test environment, which the recorder otherwise checks for.
    settings.MONITORING_FLUSH_INTERVAL = 0


def missing(reason: str) -> None:
    """Skip a test whose service is absent; under .ci/run (TEMPO_REQUIRE_SERVICES=1) fail it."""
    if os.environ.get("TEMPO_REQUIRE_SERVICES") == "1":
        pytest.fail(f"CI must not skip: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _collected_static(tmp_path_factory):
    """Pages render {% static %} through the hashed manifest, as in production."""
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if settings.DEBUG:
        return
    built = manifest.stat().st_mtime if manifest.exists() else 0.0
    sources = [Path(settings.BASE_DIR) / "static", *Path(settings.BASE_DIR).glob("apps/*/static")]
    newest = max((f.stat().st_mtime for d in sources for f in d.rglob("*") if f.is_file()), default=0.0)
    if newest > built:
        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created in most tests; a deliberately slow hasher would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def tpch_dir(tmp_path_factory) -> Path:
    """tpchgen-cli's CSV files of scale 0.01, generated once per session (tests only read them)."""
    folder = tmp_path_factory.mktemp("tpch-0.01")
    dataset_generate(scale=Decimal("0.01"), directory=folder)
    return folder


@pytest.fixture
def media(settings, tmp_path):
    """Stored files (uploads, report files) go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def ops(django_user_model):
    return django_user_model.objects.create_user("ops", "ops@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def ops_client(client, ops):
    client.force_login(ops)
    return client


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return False
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.fixture
def loopback_only(monkeypatch) -> list:
    """Any connection attempt outside 127.0.0.0/8 and ::1 fails the test (it is never sent).

    Returns the addresses of every attempt, in order.
    """
    attempts: list = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def guard(address, *, family: int = socket.AF_INET) -> None:
        attempts.append(address)
        if family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            pytest.fail(f"a connection to {address!r} was attempted: only loopback is allowed")

    def connect(sock, address):
        guard(address, family=sock.family)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        guard(address, family=sock.family)
        return real_connect_ex(sock, address)

    def create_connection(address, *args, **kwargs):
        guard(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts


@pytest.fixture
def requires_postgres():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing(
            "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo (or run .ci/run)"
        )


@pytest.fixture
def requires_redis():
    if not settings.REDIS_URL:
        missing("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/15 (or run .ci/run)")


@pytest.fixture
def published(monkeypatch) -> list[int]:
    """Job ids handed to the broker, in order, instead of to Redis; its queues look empty."""
    sent: list[int] = []

    def publish(job_id: int, *, queue: str, timeout: int) -> bool:
        sent.append(job_id)
        return True

    monkeypatch.setattr(broker, "publish", publish)
    monkeypatch.setattr(broker, "queue_size", lambda queue: 0)
    return sent


@pytest.fixture
def broker_stubbed(published) -> None:
    """Nothing reaches a real broker (on_commit callbacks fire in transactional tests), for
    tests that do not look at what was published."""
