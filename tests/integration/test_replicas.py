"""Replica routing against a real PostgreSQL streaming replica (scripts/pg_replica.sh).

The replica copies the whole primary cluster, the pytest test database included, so
the tests point a router alias at the test database on the replica's port. Rows are
committed (``transactional_db``) so that they can reach the replica at all. The replica
is started by .ci/run; locally: ``scripts/pg_replica.sh start``.
"""

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import environ
import psycopg
import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from apps.commerce.models import Region
from apps.core import routing
from tests.conftest import missing

ALIAS = "replica_live"
# Host and port of the replica; the database name is always the test database's.
REPLICA_URL = os.environ.get("TEMPO_TEST_REPLICA_URL", "postgres://postgres@127.0.0.1:5433")
SCRIPT = Path(settings.BASE_DIR) / "scripts" / "pg_replica.sh"


def wait_for(condition: Callable[[], bool], *, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def replica_sql(sql: str) -> None:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(sql)


def replica_has_region(pk: int) -> bool:
    return Region.objects.using(ALIAS).filter(pk=pk).exists()


def run_script(action: str) -> None:
    completed = subprocess.run([str(SCRIPT), action], capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, f"pg_replica.sh {action}: {completed.stdout}{completed.stderr}"


def register_replica_alias() -> None:
    """Add the replica as a database alias before pytest-django sets the test databases up.

    As a test MIRROR of "default", Django points it at the test database's name (on the
    replica's host and port), and tests may name it in ``databases``, also from threads.
    """
    if ALIAS in connections.settings:
        return
    config = environ.Env.db_url_config(f"{REPLICA_URL.rstrip('/')}/postgres")
    config.update(CONN_MAX_AGE=0, OPTIONS={"connect_timeout": 2}, TEST={"MIRROR": "default"})
    default = connections.settings["default"]
    connections.settings[ALIAS] = connections.configure_settings({"default": default, ALIAS: config})[ALIAS]


register_replica_alias()
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, databases=["default", ALIAS])]


@pytest.fixture
def live_replica(requires_postgres, settings):
    """The alias on the real replica, measured by the real background monitor."""
    url = urlsplit(REPLICA_URL)
    try:
        with psycopg.connect(
            host=url.hostname, port=url.port or 5432, user=url.username, dbname="postgres", connect_timeout=3
        ) as probe:
            in_recovery = probe.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    except psycopg.OperationalError as exc:
        missing(f"needs the local streaming replica ({exc}): run scripts/pg_replica.sh start")
    if not in_recovery:
        pytest.fail(f"{REPLICA_URL} is not a replica (pg_is_in_recovery() is false)")
    settings.REPLICA_DATABASES = [ALIAS]
    settings.REPLICA_ROUTING_ENABLED = True
    settings.REPLICA_CHECK_INTERVAL = 0.2
    settings.REPLICA_MAX_LAG_SECONDS = 5.0
    try:
        # The test database reaches the replica through the WAL like everything else.
        wait_for(lambda: routing.monitor.usable_replicas() == [ALIAS], what="the replica to be usable")
        yield routing.monitor
    finally:
        routing.monitor.stop()
        connections[ALIAS].close()


@pytest.fixture
def paused_replay(live_replica):
    """The replica receives WAL but does not apply it: it falls behind on purpose."""
    replica_sql("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        replica_sql("SELECT pg_wal_replay_resume()")


def test_reads_in_a_request_flow_go_to_the_replica(live_replica):
    Region.objects.create(id=80, name="EUROPE")
    wait_for(lambda: replica_has_region(80), what="the row on the replica")
    with routing.flow(replica_allowed=True) as state:
        assert Region.objects.get(pk=80).name == "EUROPE"
        assert state.replica == ALIAS
        assert state.replica_used


def test_a_write_followed_by_a_read_in_the_same_flow_sees_the_write(live_replica, paused_replay):
    with routing.flow(replica_allowed=True) as state:
        assert not Region.objects.filter(pk=90).exists()
        assert state.replica_used
        Region.objects.create(id=90, name="ATLANTIS")
        assert Region.objects.get(pk=90).name == "ATLANTIS"
    # The replica has not applied the write: a new flow that has not written cannot see it
    # (this is what read-your-writes protects the writer from).
    assert not replica_has_region(90)
    with routing.flow(replica_allowed=True):
        assert not Region.objects.filter(pk=90).exists()


def test_lag_above_the_threshold_routes_to_the_primary(live_replica, paused_replay, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 0.5
    Region.objects.create(id=91, name="LEMURIA")
    wait_for(lambda: ALIAS not in live_replica.usable_replicas(), what="the lag to be seen")
    status = live_replica.statuses()[ALIAS]
    assert status.reachable
    assert status.lag_seconds > 0.5
    with routing.flow(replica_allowed=True) as state:
        assert Region.objects.get(pk=91).name == "LEMURIA"
        assert not state.replica_used


def test_replica_lag_is_zero_when_it_has_caught_up(live_replica):
    Region.objects.create(id=92, name="MU")
    wait_for(lambda: replica_has_region(92), what="the row on the replica")
    statuses = live_replica.check_now()
    assert statuses[ALIAS].reachable
    assert statuses[ALIAS].lag_seconds == 0.0


def test_stopping_the_replica_under_load_fails_no_request(live_replica, alice):
    if os.geteuid() != 0 and os.environ.get("USER") != "postgres":
        missing("stopping the replica needs root or the postgres user (scripts/pg_replica.sh stop)")
    Region.objects.create(id=93, name="HYPERBOREA")
    wait_for(lambda: replica_has_region(93), what="the row on the replica")
    clients = []
    for _ in range(3):
        client = Client()
        client.force_login(alice)
        clients.append(client)
    statuses: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def browse(client: Client) -> None:
        try:
            while not stop.is_set():
                try:
                    response = client.get("/api/commerce/orders?limit=5")
                    statuses.append(response.status_code)
                except Exception as exc:
                    errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=browse, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(statuses) >= 30, what="requests before the stop")
        run_script("stop")
        stopped_at = len(statuses)
        wait_for(lambda: ALIAS not in live_replica.usable_replicas(), what="the replica to be skipped")
        wait_for(lambda: len(statuses) >= stopped_at + 60, what="requests after the stop")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        run_script("start")
    assert errors == []
    assert set(statuses) == {200}
    # Started again, it is used again without anybody telling the processes.
    wait_for(lambda: live_replica.usable_replicas() == [ALIAS], timeout=60, what="the replica to be back")
