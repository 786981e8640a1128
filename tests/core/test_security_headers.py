"""Security headers on every page: a strict Content-Security-Policy, Permissions-Policy, and
the rest; and pages that would break under that policy (inline script, style, handlers)."""

import re
from html.parser import HTMLParser

import pytest
from django.http import HttpResponse
from django.template import Context, Template

from apps.core.middleware import ContentSecurityPolicyMiddleware

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/orders/",
    "/jobs/",
    "/reports/",
    "/reports/runs/",
    "/notifications/",
    "/notifications/preferences",
    "/notifications/webhooks/",
    "/imports/",
    "/monitoring/",
    "/monitoring/endpoints/",
    "/monitoring/queries/",
    "/monitoring/database/",
    "/monitoring/queues/",
    "/monitoring/browser/",
    "/monitoring/alerts/",
    "/admin/",
    "/admin/jobs/job/",
    "/admin/password_change/",
    "/accounts/password_reset/",
    "/api/docs",
]


class InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str | None] = []  # each one's nonce
        self.inline_styles: list[str | None] = []
        self.style_attributes: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        executable = attributes.get("type") in (None, "", "module", "text/javascript")
        if tag == "script" and "src" not in attributes and executable:
            self.inline_scripts.append(attributes.get("nonce"))
        if tag == "style":
            self.inline_styles.append(attributes.get("nonce"))
        if "style" in attributes:
            self.style_attributes.append(f"<{tag} style={attributes['style']!r}>")
        self.handlers += [f"<{tag} {name}>" for name in attributes if name.startswith("on")]
        self.handlers += [
            f"<{tag} {name}>" for name, value in attrs if (value or "").startswith("javascript:")
        ]


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_a_strict_policy_and_nothing_inline_breaks_it(ops_client, path):
    response = ops_client.get(path)
    assert response.status_code == 200, path

    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["style-src"] == ["'self'"]

    page = InlineCode()
    page.feed(response.content.decode())
    nonces = [value[len("'nonce-") : -1] for value in policy["script-src"] if value.startswith("'nonce-")]
    assert all(nonce in nonces for nonce in page.inline_scripts), page.inline_scripts
    assert page.inline_styles == [], path
    assert page.style_attributes == [], page.style_attributes
    assert page.handlers == [], page.handlers


def test_an_inline_script_with_the_requests_nonce_is_allowed(rf):
    request = rf.get("/")
    middleware = ContentSecurityPolicyMiddleware(lambda request: None)
    middleware.process_request(request)
    html = Template('<script nonce="{{ request.csp_nonce }}">go()</script>').render(
        Context({"request": request})
    )
    response = middleware.process_response(request, HttpResponse(html))

    nonce = re.search(r'nonce="([^"]+)"', html).group(1)
    assert f"'nonce-{nonce}'" in directives(response["Content-Security-Policy"])["script-src"]


def test_htmx_pages_turn_off_htmxs_inline_indicator_styles(alice_client):
    response = alice_client.get("/jobs/")

    assert '"includeIndicatorStyles":false' in response.text


def test_the_other_security_headers_are_kept(client):
    response = client.get("/accounts/login/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Referrer-Policy"] == "same-origin"
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in permissions


def test_api_answers_carry_the_headers_too(client):
    response = client.get("/api/commerce/orders")

    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "Permissions-Policy" in response


def test_silks_staff_pages_get_inline_scripts_and_styles_but_nothing_else(ops_client):
    response = ops_client.get("/silk/")

    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
