"""Every route of the URLconf x anonymous, owner, other user and staff, against a table.

The routes are walked from ``get_resolver()`` (includes, the admin, Silk, the auth views
and the API's routes), URL parameters are filled with real objects owned by alice, and
each persona makes the route's request:

- API routes (``api/…``): every documented method, with the persona's bearer token; unsafe
  ones also with the persona's session and no CSRF token (refused: 401 anonymous, else 403);
- pages: the method of the table entry, logged in with a session. Unsafe requests are
  sent twice: without a CSRF token (every persona gets 403) and with one (the status in
  the table: what the view itself decides).

A route missing from the table fails the test, with the line to add (check it first!).
Everything runs in one test on one database setup; unsafe requests are rolled back.
"""

import json
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from config.api import api
from tests.hardening.conftest import World

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "alice", "bob", "ops")
SAFE = ("GET", "HEAD", "OPTIONS")

LOGIN = "302→/accounts/login/"
ADMIN_LOGIN = "302→/admin/login/"
# An unsafe API call with a session but no CSRF token: refused, whoever is logged in.
API_WITHOUT_CSRF = (401, 403, 403, 403)

# Views that take unsafe requests without a CSRF token on purpose.
CSRF_EXEMPT = {"monitoring/beacon"}
# Logging out ends the session, which the rollback does not bring back (the session store
# is the cache): these routes get sessions of their own.
LOGS_OUT = {"accounts/logout/", "admin/logout/"}

# route (as the URLconf spells it) -> {method: (anonymous, owner alice, other user bob, staff ops)}
# A status, or "302→/path" for a redirect to /path ("302→/path*": to a path that starts so). Pages
# that take only unsafe methods are listed with POST; API routes with every method.
# Notifications, webhook endpoints and deliveries are personal: staff get 404 there too.
ROUTES: dict[str, dict[str, tuple]] = {
    "healthz": {"GET": (200, 200, 200, 200)},
    # The service worker, the manifest, the icon and the offline page hold nobody's data.
    "sw.js": {"GET": (200, 200, 200, 200)},
    "manifest.webmanifest": {"GET": (200, 200, 200, 200)},
    "favicon.ico": {"GET": ("302→/static/icons/*",) * 4},
    "offline/": {"GET": (200, 200, 200, 200)},
    "readyz": {"GET": (200, 200, 200, 200)},
    "accounts/login/": {"GET": (200, 200, 200, 200)},
    "accounts/logout/": {"POST": ("302→/",) * 4},
    "accounts/password_change/": {"GET": (LOGIN, 200, 200, 200)},
    "accounts/password_change/done/": {"GET": (LOGIN, 200, 200, 200)},
    "accounts/password_reset/": {"GET": (200, 200, 200, 200)},
    "accounts/password_reset/done/": {"GET": (200, 200, 200, 200)},
    # alice's valid reset link: Django moves the token into the session and redirects.
    "accounts/reset/<uidb64>/<token>/": {"GET": ("302→/accounts/reset/*",) * 4},
    "accounts/reset/done/": {"GET": (200, 200, 200, 200)},
    "api/openapi.json": {"GET": (200, 200, 200, 200)},
    "api/docs": {"GET": (200, 200, 200, 200)},
    "api/": {"GET": (404, 404, 404, 404)},
    "api/commerce/orders": {"GET": (401, 200, 200, 200)},
    "api/commerce/orders/<order_id>": {"GET": (401, 200, 200, 200)},
    "api/commerce/customers/<customer_id>": {"GET": (401, 200, 200, 200)},
    # Staff only; without a file the staff's request is a 422.
    "api/commerce/imports": {"POST": (401, 403, 403, 422)},
    "api/notifications": {"GET": (401, 200, 200, 200)},
    "api/notifications/<int:notification_id>/read": {"POST": (401, 200, 404, 404)},
    "api/notifications/read-all": {"POST": (401, 200, 200, 200)},
    "api/notifications/preferences": {"GET": (401, 200, 200, 200), "PUT": (401, 200, 200, 200)},
    "api/notifications/endpoints": {"GET": (401, 200, 200, 200), "POST": (401, 422, 422, 422)},
    "api/notifications/endpoints/<uuidstr:endpoint_id>": {
        "GET": (401, 200, 404, 404),
        "PATCH": (401, 200, 404, 404),
        "DELETE": (401, 204, 404, 404),
    },
    "api/notifications/endpoints/<uuidstr:endpoint_id>/deliveries": {"GET": (401, 200, 404, 404)},
    "api/notifications/endpoints/<uuidstr:endpoint_id>/test": {"POST": (401, 202, 404, 404)},
    "api/notifications/deliveries": {"GET": (401, 200, 200, 200)},
    "api/notifications/deliveries/<uuidstr:delivery_id>": {"GET": (401, 200, 404, 404)},
    "api/notifications/deliveries/<uuidstr:delivery_id>/redeliver": {"POST": (401, 202, 404, 404)},
    "api/notifications/signing-secret/rotate": {"POST": (401, 200, 200, 200)},
    "api/reports/catalog": {"GET": (401, 200, 200, 200)},
    "api/reports": {"GET": (401, 200, 200, 200), "POST": (401, 202, 202, 202)},
    "api/reports/<run_id>": {"GET": (401, 200, 404, 200)},
    "api/reports/<run_id>/download": {"GET": (401, 200, 404, 200)},
    "api/monitoring/overview": {"GET": (401, 403, 403, 200)},
    "api/monitoring/endpoints": {"GET": (401, 403, 403, 200)},
    # Without its required key: staff get the 422, anyone else the 403 first.
    "api/monitoring/endpoints/detail": {"GET": (401, 403, 403, 422)},
    "api/monitoring/slow-queries": {"GET": (401, 403, 403, 200)},
    "api/monitoring/slow-queries/<query_id>": {"GET": (401, 403, 403, 200)},
    "api/monitoring/database": {"GET": (401, 403, 403, 200)},
    "api/monitoring/queues": {"GET": (401, 403, 403, 200)},
    "api/monitoring/browser": {"GET": (401, 403, 403, 200)},
    "api/monitoring/alerts": {"GET": (401, 403, 403, 200)},
    "api/jobs/kinds": {"GET": (401, 200, 200, 200)},
    "api/jobs": {"GET": (401, 200, 200, 200), "POST": (401, 202, 202, 202)},
    "api/jobs/<job_id>": {"GET": (401, 200, 404, 200)},
    "api/jobs/<job_id>/cancel": {"POST": (401, 200, 404, 200)},
    # alice's job is queued: nothing to retry, for its owner and staff alike.
    "api/jobs/<job_id>/retry": {"POST": (401, 409, 404, 409)},
    # GraphQL is POSTed (tests/graphql_api); a GET without a query is a 400, GraphiQL is staff's.
    "graphql": {"GET": (401, 400, 400, 400)},
    "jobs/": {"GET": (LOGIN, 200, 200, 200)},
    "jobs/poll": {"GET": (LOGIN, 200, 200, 200)},
    # A kind's fields are an htmx fragment: a plain GET goes back to the list. An empty
    # submit names no kind: the list with the form's problems.
    "jobs/submit": {
        "GET": (LOGIN, "302→/jobs/", "302→/jobs/", "302→/jobs/"),
        "POST": (LOGIN, 422, 422, 422),
    },
    "jobs/<uuid:job_id>/": {"GET": (LOGIN, 200, 404, 200)},
    "jobs/<uuid:job_id>/log": {"GET": (LOGIN, 200, 404, 200)},
    "jobs/<uuid:job_id>/cancel": {"POST": (LOGIN, "302→/jobs/*", 404, "302→/jobs/*")},
    "jobs/<uuid:job_id>/retry": {"POST": (LOGIN, "302→/jobs/*", 404, "302→/jobs/*")},
    "notifications/": {"GET": (LOGIN, 200, 200, 200)},
    "notifications/bell": {"GET": (LOGIN, 200, 200, 200)},
    "notifications/<int:notification_id>/": {"GET": (LOGIN, "302→/notifications/", 404, 404)},
    "notifications/<int:notification_id>/read": {"POST": (LOGIN, "302→/notifications/", 404, 404)},
    "notifications/read-all": {
        "POST": (LOGIN, "302→/notifications/", "302→/notifications/", "302→/notifications/")
    },
    "notifications/preferences": {"GET": (LOGIN, 200, 200, 200)},
    "notifications/webhooks/": {"GET": (LOGIN, 200, 200, 200)},
    "notifications/webhooks/signing-secret": {"POST": (LOGIN, 200, 200, 200)},
    "notifications/webhooks/<uuid:endpoint_id>/": {"GET": (LOGIN, 200, 404, 404)},
    "notifications/webhooks/<uuid:endpoint_id>/toggle": {
        "POST": (LOGIN, "302→/notifications/webhooks/*", 404, 404)
    },
    "notifications/webhooks/<uuid:endpoint_id>/delete": {
        "POST": (LOGIN, "302→/notifications/webhooks/*", 404, 404)
    },
    "notifications/webhooks/<uuid:endpoint_id>/test": {
        "POST": (LOGIN, "302→/notifications/webhooks/*", 404, 404)
    },
    "notifications/deliveries/<uuid:delivery_id>/redeliver": {
        "POST": (LOGIN, "302→/notifications/webhooks/*", 404, 404)
    },
    "reports/": {"GET": (LOGIN, 200, 200, 200)},
    "reports/new/<slug:name>/": {"GET": (LOGIN, 200, 200, 200)},
    "reports/runs/": {"GET": (LOGIN, 200, 200, 200)},
    "reports/runs/poll": {"GET": (LOGIN, 200, 200, 200)},
    "reports/runs/<uuid:run_id>/": {"GET": (LOGIN, 200, 404, 200)},
    "reports/runs/<uuid:run_id>/download": {"GET": (LOGIN, 200, 404, 200)},
    "monitoring/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "monitoring/endpoints/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    # No ?key=: no such endpoint.
    "monitoring/endpoint/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404)},
    "monitoring/endpoint/silk": {
        "POST": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, "302→/monitoring/endpoints/")
    },
    "monitoring/queries/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "monitoring/queries/<int:query_id>/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "monitoring/database/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "monitoring/queues/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "monitoring/browser/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "monitoring/alerts/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    # Browsers send it without cookies or a CSRF token; an empty body is refused.
    "monitoring/beacon": {"POST": (400, 400, 400, 400)},
    # For a scraper with MONITORING_METRICS_TOKEN or from an allowed address, not sessions.
    "metrics": {"GET": (403, 403, 403, 403)},
    "silk/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/requests/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/request/<uuid:request_id>/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/request/<uuid:request_id>/sql/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/request/<uuid:request_id>/sql/<int:sql_id>/": {"GET": (LOGIN, 403, 403, 200)},
    # Without ?subtype=request|response: a 400.
    "silk/request/<uuid:request_id>/raw/": {"GET": (LOGIN, 403, 403, 400)},
    # The request has no profile file.
    "silk/request/<uuid:request_id>/pyprofile/": {"GET": (LOGIN, 403, 403, 404)},
    "silk/request/<uuid:request_id>/json/": {"GET": (LOGIN, 403, 403, 404)},
    "silk/request/<uuid:request_id>/profiling/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/request/<uuid:request_id>/profile/<int:profile_id>/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/request/<uuid:request_id>/profile/<int:profile_id>/sql/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/request/<uuid:request_id>/profile/<int:profile_id>/sql/<int:sql_id>/": {
        "GET": (LOGIN, 403, 403, 200)
    },
    "silk/profile/<int:profile_id>/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/profile/<int:profile_id>/sql/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/profile/<int:profile_id>/sql/<int:sql_id>/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/profiling/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/cleardb/": {"GET": (LOGIN, 403, 403, 200)},
    "silk/request/<uuid:request_id>/cprofile/": {"GET": (LOGIN, 403, 403, 200)},
    "": {"GET": (LOGIN, 200, 200, 200)},
    "orders/": {"GET": (LOGIN, 200, 200, 200)},
    "orders/<int:order_id>/": {"GET": (LOGIN, 200, 200, 200)},
    "imports/": {"GET": (LOGIN, 403, 403, 200)},
    # The admin's own pages (its model pages are in ADMIN_MODELS).
    "admin/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "admin/login/": {"GET": (200, 200, 200, "302→/admin/")},
    "admin/logout/": {"POST": ("302→/admin/", "302→/admin/", "302→/admin/", "302→/")},
    "admin/password_change/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "admin/password_change/done/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    # Without app_label and field_name: a 403.
    "admin/autocomplete/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)},
    "admin/auth/user/<id>/password/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)},
    "admin/jsi18n/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    # "View on site" of a job: jobs have no public URL of their own.
    "admin/r/<path:content_type_id>/<path:object_id>/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404)},
    "admin/<app_label>/": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)},
    "admin/<url>": {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404)},
}

# The admin, per model: staff's answer on (changelist, add, history, delete, change); anyone
# else is sent to the admin login, and ``<path:object_id>/`` redirects staff to the model.
# Staff without model permissions see only what the app's admin opens to all staff: the
# jobs and the notifications records (read-only).
ADMIN_MODELS: dict[str, tuple] = {
    "auth.group": (403, 403, 403, 403, 403),
    "auth.user": (403, 403, 403, 403, 403),
    "django_q.schedule": (403, 403, 403, 403, 403),
    "django_q.success": (403, 403, 403, 403, 403),
    "django_q.failure": (403, 403, 403, 403, 403),
    "django_q.ormq": (403, 403, 403, 403, 403),
    "core.apitoken": (403, 403, 403, 403, 403),
    "jobs.job": (200, 403, 200, 403, 200),
    "commerce.region": (403, 403, 403, 403, 403),
    "commerce.nation": (403, 403, 403, 403, 403),
    "commerce.supplier": (403, 403, 403, 403, 403),
    "commerce.part": (403, 403, 403, 403, 403),
    "commerce.partsupplier": (403, 403, 403, 403, 403),
    "commerce.customer": (403, 403, 403, 403, 403),
    "commerce.order": (403, 403, 403, 403, 403),
    "commerce.lineitem": (403, 403, 403, 403, 403),
    "commerce.dataset": (403, 403, 403, 403, 403),
    "notifications.notification": (200, 403, 200, 403, 200),
    "notifications.preference": (200, 403, 200, 403, 200),
    "notifications.emailmessage": (200, 403, 200, 403, 200),
    "notifications.webhookendpoint": (200, 403, 200, 403, 200),
    "notifications.webhookdelivery": (200, 403, 200, 403, 200),
    "monitoring.alertrule": (403, 403, 403, 403, 403),
    "monitoring.alertevent": (403, 403, 403, 403, 403),
    "monitoring.slowquery": (403, 403, 403, 403, 403),
    "axes.accessattempt": (403, 403, 403, 403, 403),
    "axes.accesslog": (403, 403, 403, 403, 403),
    "axes.accessfailurelog": (403, 403, 403, 403, 403),
}

# Request bodies for API calls that need one to reach the object (else a 422 comes first).
BODIES: dict[tuple[str, str], object] = {
    ("PUT", "api/notifications/preferences"): [],
    ("PATCH", "api/notifications/endpoints/<uuidstr:endpoint_id>"): {"description": "renamed"},
    ("POST", "api/reports"): {"report": "pricing_summary"},
    ("POST", "api/jobs"): {"kind": "diagnostics.noop"},
}


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def readable(route: str) -> str:
    """Regular-expression routes written like the others: admin/^(?P<app_label>…)/$ -> admin/<app_label>/."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route).replace("^", "").replace("$", "")


def routes() -> list[str]:
    """Every route once, in URLconf order (the API lists a path once per method)."""
    return list(dict.fromkeys(readable(route) for route in _walk(get_resolver().url_patterns)))


def plain(route: str) -> str:
    """The route without its converters: api/jobs/<uuid:job_id> -> api/jobs/<job_id>."""
    return re.sub(r"<\w+:(\w+)>", r"<\1>", route)


def api_methods() -> dict[str, set[str]]:
    """Plain route -> methods, from the API's OpenAPI document."""
    methods: dict[str, set[str]] = {}
    for path, operations in api.get_openapi_schema()["paths"].items():
        route = re.sub(r"\{(\w+)\}", r"<\1>", path.lstrip("/"))
        methods[route] = {method.upper() for method in operations}
    return methods


def admin_table() -> dict[str, dict[str, tuple]]:
    table = {}
    for label, (changelist, add, history, delete, change) in ADMIN_MODELS.items():
        base = "admin/" + label.replace(".", "/") + "/"
        staff = {
            "": changelist,
            "add/": add,
            "<path:object_id>/history/": history,
            "<path:object_id>/delete/": delete,
            "<path:object_id>/change/": change,
            "<path:object_id>/": f"302→/{base}*",
        }
        for suffix, status in staff.items():
            table[base + suffix] = {"GET": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, status)}
    return table


def parameters(world: World, route: str) -> dict[str, str]:
    admin_model = re.match(r"admin/(\w+)/(\w+)/", route)
    alice = world.alice.user
    return {
        "job_id": str(world.job.uuid),
        "run_id": str(world.ready_run.uuid),
        "endpoint_id": str(world.endpoint.uuid),
        "delivery_id": str(world.delivery.uuid),
        "notification_id": str(world.notification.pk),
        "order_id": str(world.order.pk),
        "customer_id": str(world.customer.pk),
        "query_id": str(world.slow_query.pk),
        "name": "pricing_summary",
        "uidb64": urlsafe_base64_encode(force_bytes(alice.pk)),
        "token": default_token_generator.make_token(alice),
        "content_type_id": str(ContentType.objects.get_by_natural_key("jobs", "job").pk),
        "id": str(alice.pk),
        "app_label": "jobs",
        "url": "no-such-page/",
        "object_id": str(world.admin_objects.get(".".join(admin_model.groups()), "")) if admin_model else "",
        **{name: str(value) for name, value in world.silk.items()},
    }


def url_for(world: World, route: str) -> str:
    if route == "admin/r/<path:content_type_id>/<path:object_id>/":
        values = parameters(world, route) | {"object_id": str(world.job.pk)}
    else:
        values = parameters(world, route)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def outcome(response) -> int | str:
    if response.status_code in (301, 302, 303, 307, 308):
        return f"{response.status_code}→{urlsplit(response['Location']).path}"
    return response.status_code


def matches(expected: int | str, observed: int | str) -> bool:
    if isinstance(expected, str) and expected.endswith("*") and isinstance(observed, str):
        return observed.startswith(expected[:-1])
    return expected == observed


def clients(world: World, *, api_route: bool, csrf: bool) -> dict[str, Client]:
    made = {}
    for name in PERSONAS:
        persona = world.persona(name)
        # A view's crash is an answer (500) to compare, not an exception in the test.
        client = Client(enforce_csrf_checks=csrf, raise_request_exception=False)
        if persona is not None:
            if api_route:
                client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {persona.token}"
            else:
                client.force_login(persona.user)
        made[name] = client
    return made


def send(client: Client, method: str, url: str, body: object = None):
    """One request whose writes are rolled back, so that every case sees the same world."""
    extra = {} if body is None else {"data": json.dumps(body), "content_type": "application/json"}
    with transaction.atomic():
        response = client.generic(method, url, **extra)
        if getattr(response, "streaming", False):
            # Consumed to the end, the test client closes the file (and only then).
            b"".join(response.streaming_content)
        transaction.set_rollback(True)
    return response


def test_every_route_answers_each_persona_as_the_table_says(world, published):
    table = {**ROUTES, **admin_table()}
    documented = api_methods()
    missing, wrong, csrf_open = [], [], []
    api_clients = clients(world, api_route=True, csrf=True)
    # Pages: with the CSRF check passed (what the view decides), and enforced.
    page_clients = clients(world, api_route=False, csrf=False)
    page_clients_csrf = clients(world, api_route=False, csrf=True)

    for route in routes():
        url = url_for(world, route)
        is_api = plain(route) in documented
        entry = table.get(route)
        if entry is None or (is_api and set(entry) != documented[plain(route)]):
            observed = {}
            for method in sorted(documented[plain(route)]) if is_api else ["GET"]:
                chosen = api_clients if is_api else page_clients
                body = BODIES.get((method, route))
                observed[method] = tuple(outcome(send(chosen[p], method, url, body)) for p in PERSONAS)
            missing.append(f"    {route!r}: {observed!r},")
            continue
        for method, expected in entry.items():
            if is_api:
                body = BODIES.get((method, route))
                observed = tuple(outcome(send(api_clients[p], method, url, body)) for p in PERSONAS)
                if method not in SAFE:
                    refused = tuple(outcome(send(page_clients_csrf[p], method, url, body)) for p in PERSONAS)
                    if refused != API_WITHOUT_CSRF:
                        csrf_open.append(f"{method} {url}: {refused} with a session and no CSRF token")
            else:
                chosen = clients(world, api_route=False, csrf=False) if route in LOGS_OUT else page_clients
                observed = tuple(outcome(send(chosen[p], method, url)) for p in PERSONAS)
                if method not in SAFE and route not in CSRF_EXEMPT:
                    refused = tuple(outcome(send(page_clients_csrf[p], method, url)) for p in PERSONAS)
                    if set(refused) != {403}:
                        csrf_open.append(f"{method} {url}: {refused} without a CSRF token")
            for persona, want, got in zip(PERSONAS, expected, observed, strict=True):
                if not matches(want, got):
                    wrong.append(f"{method} {url} as {persona}: expected {want}, got {got}")

    problems = []
    if missing:
        problems.append(
            "Routes missing from ROUTES (or API methods that differ): add them. Observed answers, to "
            "check before pasting:\n" + "\n".join(missing)
        )
    if wrong:
        problems.append("Answers that differ from the table:\n  " + "\n  ".join(wrong))
    if csrf_open:
        problems.append("Unsafe requests accepted without a CSRF token:\n  " + "\n  ".join(csrf_open))
    assert not problems, "\n\n".join(problems)
