"""Replica routing rules (apps.core.routing) and read-your-writes (apps.core.middleware).

These run on any database: the replica here is an alias whose health the test states,
and the router's answers are checked without querying it. tests/integration/
test_replicas.py runs the same rules against a real streaming replica.
"""

import time

import pytest
from django.contrib.sessions.models import Session
from django.core import signing
from django.db import connections, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from apps.commerce.models import Order, Region
from apps.core import routing
from apps.core.middleware import STICKY_COOKIE, STICKY_SALT, ReplicaRoutingMiddleware
from apps.core.services import api_token_create
from apps.jobs.models import Job

REPLICA = "replica_fake"


@pytest.fixture
def replica_monitor(settings, monkeypatch):
    """One replica alias, its health as the test records it, no background thread."""
    settings.REPLICA_DATABASES = [REPLICA]
    settings.REPLICA_ROUTING_ENABLED = True
    settings.REPLICA_MAX_LAG_SECONDS = 2.0
    settings.REPLICA_CHECK_INTERVAL = 1.0
    monitor = routing.ReplicaMonitor(background=False)
    monkeypatch.setattr(routing, "monitor", monitor)
    return monitor


def healthy(lag: float = 0.0, age: float = 0.0) -> routing.ReplicaStatus:
    return routing.ReplicaStatus(REPLICA, True, lag, time.time() - age)


def test_reads_outside_any_flow_go_to_the_primary(replica_monitor):
    replica_monitor.record(healthy())
    # Jobs, commands and shells: no flow, so the primary.
    assert Order.objects.all().db == "default"


def test_request_flow_reads_from_a_healthy_replica(replica_monitor):
    replica_monitor.record(healthy())
    with routing.flow(replica_allowed=True):
        assert Order.objects.all().db == REPLICA


def test_jobs_opt_in_with_reads_from_replica(replica_monitor):
    replica_monitor.record(healthy())
    with routing.reads_from_replica():
        assert Region.objects.all().db == REPLICA
    assert Region.objects.all().db == "default"


def test_a_write_sends_the_rest_of_the_flow_to_the_primary(replica_monitor):
    replica_monitor.record(healthy())
    with routing.flow(replica_allowed=True) as state:
        assert Order.objects.all().db == REPLICA
        assert routing.ReplicaRouter().db_for_write(Region) == "default"
        assert state.wrote
        assert Order.objects.all().db == "default"


def test_writes_to_primary_only_apps_do_not_make_the_flow_sticky(replica_monitor):
    replica_monitor.record(healthy())
    with routing.flow(replica_allowed=True) as state:
        routing.ReplicaRouter().db_for_write(Job)
        assert not state.wrote
        assert Order.objects.all().db == REPLICA


def test_sessions_and_jobs_are_always_read_from_the_primary(replica_monitor):
    replica_monitor.record(healthy())
    with routing.flow(replica_allowed=True):
        assert Session.objects.all().db == "default"
        assert Job.objects.all().db == "default"


def test_a_lagging_replica_is_skipped(replica_monitor):
    replica_monitor.record(healthy(lag=2.5))
    with routing.flow(replica_allowed=True):
        assert Order.objects.all().db == "default"


def test_an_unreachable_replica_is_skipped(replica_monitor):
    replica_monitor.mark_down(REPLICA, "connection refused")
    with routing.flow(replica_allowed=True):
        assert Order.objects.all().db == "default"


def test_an_old_measurement_is_not_trusted(replica_monitor):
    # The monitor stopped measuring three rounds ago: the replica may be anything by now.
    replica_monitor.record(healthy(age=5.0))
    with routing.flow(replica_allowed=True):
        assert Order.objects.all().db == "default"


def test_routing_switched_off_reads_from_the_primary(replica_monitor, settings):
    settings.REPLICA_ROUTING_ENABLED = False
    replica_monitor.record(healthy())
    with routing.flow(replica_allowed=True):
        assert Order.objects.all().db == "default"


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_stay_on_the_primary(replica_monitor):
    replica_monitor.record(healthy())
    with routing.flow(replica_allowed=True):
        with transaction.atomic():
            assert connections["default"].in_atomic_block
            assert Order.objects.all().db == "default"
        assert Order.objects.all().db == REPLICA


def test_replicas_are_never_migrated(replica_monitor):
    assert routing.ReplicaRouter().allow_migrate(REPLICA, "commerce") is False
    assert routing.ReplicaRouter().allow_migrate("default", "commerce") is None


def test_unknown_replica_alias_is_measured_as_unreachable(replica_monitor):
    statuses = replica_monitor.check_now()
    assert statuses[REPLICA].reachable is False
    assert "replica_fake" in statuses[REPLICA].error


@pytest.mark.django_db
def test_a_request_that_writes_sets_the_sticky_cookie(client, alice, replica_monitor):
    replica_monitor.record(healthy())
    _, raw = api_token_create(user=alice)
    # The first use of a token records last_used_at: a write to a domain table.
    response = client.get("/api/commerce/orders", headers={"authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert STICKY_COOKIE in response.cookies
    assert response.cookies[STICKY_COOKIE]["httponly"]
    # Within the sticky window the token is not touched again: a read-only request.
    response = client.get("/api/commerce/orders", headers={"authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert STICKY_COOKIE not in response.cookies


def test_a_sticky_client_reads_from_the_primary(replica_monitor):
    replica_monitor.record(healthy())
    seen = {}

    def view(request):
        seen["alias"] = Order.objects.all().db
        return HttpResponse("ok")

    middleware = ReplicaRoutingMiddleware(view)
    middleware(RequestFactory().get("/"))
    assert seen["alias"] == REPLICA

    # A client whose previous request wrote carries the signed cookie.
    written = RequestFactory().get("/")
    written.COOKIES[STICKY_COOKIE] = signing.get_cookie_signer(salt=STICKY_COOKIE + STICKY_SALT).sign("1")
    middleware(written)
    assert seen["alias"] == "default"

    # A forged (unsigned) cookie does not pin anybody to the primary.
    forged = RequestFactory().get("/")
    forged.COOKIES[STICKY_COOKIE] = "1"
    middleware(forged)
    assert seen["alias"] == REPLICA
