"""One small committed world for the hardening suite: built once, read by every test.

The schemathesis run, the authorization matrix and the bad-input table send thousands of
requests that must hit real rows: orders, customers and line items, jobs and report runs
of each persona, notifications, webhook endpoints and deliveries, slow queries and alerts.
Building them per test would dominate the run, so ``world`` commits them once for the
package (outside the tests' transactions, which roll back whatever a request changed)
and deletes them when the package ends, so that no other test module sees them.

The personas ``alice``, ``bob`` and ``ops`` here are the world's users (the suite-wide
fixtures would create a second ``alice``).
"""

import dataclasses
import datetime
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management.color import no_style
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage
from silk.models import Profile, SQLQuery
from silk.models import Request as SilkRequest
from silk.models import Response as SilkResponse

from apps.commerce.models import (
    Customer,
    Dataset,
    LineItem,
    Nation,
    Order,
    Part,
    PartSupplier,
    Region,
    Supplier,
)
from apps.commerce.services import TABLES
from apps.core.models import ApiToken
from apps.core.services import api_token_create
from apps.jobs import broker, services
from apps.jobs.models import Job, JobAttempt, Status
from apps.monitoring.models import AlertEvent, AlertRule, SlowQuery
from apps.notifications.models import (
    EmailMessage,
    Notification,
    Preference,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.reports import services as reports_services
from apps.reports.models import ReportRun
from tests.commerce.factories import (
    customer_create,
    line_item_shipped,
    order_create,
    part_create,
    supplier_create,
)
from tests.conftest import PASSWORD


@dataclasses.dataclass
class Persona:
    user: object
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclasses.dataclass
class World:
    """What the suite reads: personas with bearer tokens and alice's objects (by kind)."""

    alice: Persona
    bob: Persona
    ops: Persona
    # Objects owned by alice, one per kind, for URL parameters.
    job: Job
    dead_job: Job
    run: ReportRun
    ready_run: ReportRun
    notification: Notification
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    order: Order
    customer: Customer
    slow_query: SlowQuery
    alert: AlertEvent
    alert_rule_created: bool
    # bob's own, for the "other user" cases.
    bob_job: Job
    bob_run: ReportRun
    # One row per admin model (by "app_label.model") and per Silk record kind, for the
    # object URLs of the admin and of Silk.
    admin_objects: dict[str, int | str]
    silk: dict[str, int | str]

    def persona(self, name: str) -> Persona | None:
        return getattr(self, name) if name != "anonymous" else None


def _commerce() -> tuple[list[Customer], list[Order]]:
    region = Region.objects.create(id=1, name="EUROPE")
    nation = Nation.objects.create(id=6, name="FRANCE", region=region)
    customers = [customer_create(id=index, nation=nation) for index in (1, 2)]
    supplier = supplier_create(id=1, nation=nation)
    part = part_create(id=1)
    orders = []
    for index in range(1, 7):
        day = datetime.date(1995, 1, 1) + datetime.timedelta(days=index // 2)
        order = order_create(
            id=index,
            customer=customers[index % 2],
            status="OFP"[index % 3],
            total_price=Decimal(f"{index}000.50"),
            order_date=day,
        )
        orders.append(order)
        line_item_shipped(order=order, part=part, supplier=supplier)
    return customers, orders


def _jobs_of(user) -> list[Job]:
    """A queued, a succeeded, a dead and a scheduled job of ``user``."""
    queued = services.enqueue("diagnostics.noop", owner=user)
    succeeded = services.enqueue("diagnostics.noop", owner=user)
    now = timezone.now()
    Job.objects.filter(pk=succeeded.pk).update(
        status=Status.SUCCEEDED, attempts=1, started_at=now, finished_at=now, result={"ok": True}
    )
    JobAttempt.objects.create(
        job=succeeded, number=1, outcome=JobAttempt.Outcome.SUCCEEDED, started_at=now, finished_at=now
    )
    dead = services.enqueue("diagnostics.fail", params={"times": 9}, owner=user)
    Job.objects.filter(pk=dead.pk).update(
        status=Status.DEAD, attempts=dead.max_attempts, error="failed on purpose", finished_at=now
    )
    scheduled = services.enqueue("diagnostics.noop", owner=user, run_at=now + datetime.timedelta(days=1))
    return [Job.objects.get(pk=job.pk) for job in (queued, succeeded, dead, scheduled)]


def _webhooks_of(user) -> tuple[WebhookEndpoint, WebhookDelivery]:
    # Rows written directly: the services resolve the host name, and no request ever
    # leaves this machine (no delivery job runs here).
    endpoint = WebhookEndpoint.objects.create(
        owner=user, url="https://hooks.example.com/tempo", secret="whsec_" + "A" * 32
    )
    delivery = WebhookDelivery.objects.create(
        owner=user,
        endpoint=endpoint,
        url=endpoint.url,
        event="job.succeeded",
        message_id=f"msg_{user.pk:032d}",
        payload={"type": "job.succeeded", "data": {}},
        status="failed",
        attempts=1,
        last_status_code=500,
    )
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, status_code=500, latency_ms=12, response_excerpt="oops"
    )
    return endpoint, delivery


def _monitoring() -> tuple[SlowQuery, AlertEvent, bool]:
    """A slow query and an open alert; True if the alert's rule had to be created (a flushed
    database has none), so that it goes with the world."""
    now = timezone.now()
    slow = SlowQuery.objects.create(
        fingerprint="f" * 40,
        source_kind="request",
        source="GET /api/commerce/orders",
        normalized_sql="SELECT * FROM commerce_order WHERE id = %s",
        sample_sql="SELECT * FROM commerce_order WHERE id = 1",
        sample_ms=120.0,
        calls=3,
        total_ms=360.0,
        max_ms=130.0,
        slow_calls=3,
        first_seen=now,
        last_seen=now,
    )
    rule, rule_created = AlertRule.objects.get_or_create(
        name="Slow endpoint: p95 above 500 ms for 5 minutes",
        defaults={"metric": "endpoint_p95_ms", "threshold": 500, "min_count": 20},
    )
    alert = AlertEvent.objects.create(
        rule=rule,
        subject="GET /api/commerce/orders",
        opened_at=now,
        value_at_open=900.0,
        last_value=900.0,
        peak_value=950.0,
        message="p95 900 ms",
    )
    return slow, alert, rule_created


def _admin_extras(users: dict, customers: list[Customer]) -> dict[str, object]:
    """Rows of the admin models that the rest of the world does not hold."""
    alice = users["alice"]
    part = Part.objects.get(pk=1)
    schedule = Schedule.objects.create(name="hardening", func="math.floor", args="1")
    now = timezone.now()
    success = Task.objects.create(
        id="a" * 32, name="hardening-ok", func="math.floor", started=now, stopped=now, success=True
    )
    failure = Task.objects.create(
        id="b" * 32, name="hardening-failed", func="math.floor", started=now, stopped=now, success=False
    )
    ormq = OrmQ.objects.create(
        key="default",
        payload=SignedPackage.dumps({"id": "c" * 32, "name": "hardening-queued", "func": "math.floor"}),
        lock=None,
    )
    extras = {}
    if django_apps.is_installed("axes"):
        # The login lockout's records (rows of an unknown user from a documentation address).
        access = {"user_agent": "hardening", "ip_address": "192.0.2.1", "username": "nobody-hardening"}
        access |= {"http_accept": "*/*", "path_info": "/accounts/login/"}
        extras = {
            "axes.accessattempt": django_apps.get_model("axes", "AccessAttempt").objects.create(
                **access, get_data="", post_data="", failures_since_start=1
            ),
            "axes.accesslog": django_apps.get_model("axes", "AccessLog").objects.create(**access),
            "axes.accessfailurelog": django_apps.get_model("axes", "AccessFailureLog").objects.create(
                **access
            ),
        }
    return extras | {
        "auth.group": Group.objects.create(name="hardening"),
        "auth.user": alice,
        "django_q.schedule": schedule,
        "django_q.success": success,
        "django_q.failure": failure,
        "django_q.ormq": ormq,
        "commerce.partsupplier": PartSupplier.objects.create(
            part=part, supplier_id=1, available_quantity=5, supply_cost=Decimal("1.00")
        ),
        "commerce.dataset": Dataset.objects.create(scale=Decimal("0.0001"), row_counts={}),
        "notifications.preference": Preference.objects.create(
            user=alice, event="job.succeeded", channel="email", enabled=False
        ),
        "notifications.emailmessage": EmailMessage.objects.create(
            recipient=alice, to=alice.email, event="job.succeeded", subject="Done", text_body="ok"
        ),
    }


def _silk() -> dict[str, int | str]:
    request = SilkRequest.objects.create(path="/api/commerce/orders", method="GET", time_taken=12.0)
    SilkResponse.objects.create(request=request, status_code=200)
    sql = SQLQuery.objects.create(request=request, query="SELECT 1", traceback="", time_taken=1.0)
    profile = Profile.objects.create(request=request, name="hardening", func_name="view")
    return {"request_id": request.pk, "sql_id": sql.pk, "profile_id": profile.pk}


def _build() -> World:
    User = get_user_model()
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        users = {
            "alice": User.objects.create_user("alice", "alice@example.com", PASSWORD),
            "bob": User.objects.create_user("bob", "bob@example.com", PASSWORD),
            "ops": User.objects.create_user("ops", "ops@example.com", PASSWORD, is_staff=True),
        }
    personas = {name: Persona(user, api_token_create(user=user)[1]) for name, user in users.items()}
    alice, bob = users["alice"], users["bob"]

    customers, orders = _commerce()
    alice_jobs = _jobs_of(alice)
    bob_jobs = _jobs_of(bob)
    _jobs_of(users["ops"])

    run = reports_services.report_run_create(owner=alice, report="pricing_summary", params={})
    ready_run = reports_services.report_run_create(owner=alice, report="orders_export", params={})
    reports_services.report_run_generate(run=ready_run)
    bob_run = reports_services.report_run_create(owner=bob, report="pricing_summary", params={})
    reports_services.report_run_create(owner=users["ops"], report="pricing_summary", params={})

    notifications = [
        Notification.objects.create(recipient=user, event="job.succeeded", title=f"Done {n}", body="ok")
        for user in (alice, bob)
        for n in range(2)
    ]
    endpoint, delivery = _webhooks_of(alice)
    _webhooks_of(bob)
    slow, alert, rule_created = _monitoring()
    extras = _admin_extras(users, customers)
    admin_objects = {
        "core.apitoken": ApiToken.objects.filter(user=alice).first(),
        "jobs.job": alice_jobs[0],
        "commerce.region": Region.objects.first(),
        "commerce.nation": Nation.objects.first(),
        "commerce.supplier": Supplier.objects.first(),
        "commerce.part": Part.objects.first(),
        "commerce.customer": customers[0],
        "commerce.order": orders[0],
        "commerce.lineitem": LineItem.objects.filter(order=orders[0]).first(),
        "notifications.notification": notifications[0],
        "notifications.webhookendpoint": endpoint,
        "notifications.webhookdelivery": delivery,
        "monitoring.alertrule": alert.rule,
        "monitoring.alertevent": alert,
        "monitoring.slowquery": slow,
        **extras,
    }
    return World(
        **personas,
        job=alice_jobs[0],
        dead_job=alice_jobs[2],
        run=run,
        ready_run=ReportRun.objects.get(pk=ready_run.pk),
        notification=notifications[0],
        endpoint=endpoint,
        delivery=delivery,
        order=orders[0],
        customer=customers[0],
        slow_query=slow,
        alert=alert,
        alert_rule_created=rule_created,
        bob_job=bob_jobs[0],
        bob_run=bob_run,
        admin_objects={label: row.pk for label, row in admin_objects.items()},
        silk=_silk(),
    )


def _remove(world: World) -> None:
    User = get_user_model()
    # Users own everything else (jobs, runs, notifications, endpoints, tokens) by CASCADE.
    User.objects.filter(pk__in=[p.user.pk for p in (world.alice, world.bob, world.ops)]).delete()
    SlowQuery.objects.filter(pk=world.slow_query.pk).delete()
    AlertEvent.objects.filter(pk=world.alert.pk).delete()
    if world.alert_rule_created:
        AlertRule.objects.filter(pk=world.alert.rule_id).delete()
    SilkRequest.objects.filter(pk=world.silk["request_id"]).delete()
    Group.objects.filter(pk=world.admin_objects["auth.group"]).delete()
    Schedule.objects.filter(pk=world.admin_objects["django_q.schedule"]).delete()
    Task.objects.filter(
        pk__in=[world.admin_objects["django_q.success"], world.admin_objects["django_q.failure"]]
    ).delete()
    OrmQ.objects.filter(pk=world.admin_objects["django_q.ormq"]).delete()
    for label in ("axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"):
        if label in world.admin_objects:
            django_apps.get_model(label).objects.filter(pk=world.admin_objects[label]).delete()
    tables = [Dataset._meta.db_table] + [table.model._meta.db_table for table in reversed(TABLES.values())]
    with connection.cursor() as cursor:
        for statement in connection.ops.sql_flush(no_style(), tables, allow_cascade=False):
            cursor.execute(statement)
    # Cached order and customer bodies would name rows that no longer exist.
    cache.clear()


@pytest.fixture(scope="package")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    media = override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("hardening-media"))
    media.enable()
    # Publishing is stubbed: no broker message outlives the suite, and no worker runs.
    patch = pytest.MonkeyPatch()
    patch.setattr(broker, "publish", lambda job_id, *, queue, timeout: True)
    try:
        with django_db_blocker.unblock():
            cache.clear()
            built = _build()
        yield built
    finally:
        with django_db_blocker.unblock():
            if "built" in locals():
                _remove(built)
        patch.undo()
        media.disable()


@pytest.fixture
def alice(world):
    return world.alice.user


@pytest.fixture
def bob(world):
    return world.bob.user


@pytest.fixture
def ops(world):
    return world.ops.user


@pytest.fixture
def wsgi_requests_keep_the_test_transaction():
    """Requests sent straight to the WSGI app (schemathesis) must not close the connection.

    Django's handler closes old connections when a request starts and ends; inside a
    test's transaction that would end it. Django's own test client disconnects the same
    receivers around each request.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def client_as(persona: Persona | None, *, enforce_csrf: bool = True) -> Client:
    """A test client logged in as ``persona`` (None: anonymous), with CSRF enforced as in production."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    if persona is not None:
        client.force_login(persona.user)
    return client
