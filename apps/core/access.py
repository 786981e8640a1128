"""Access decorators shared by the apps' server-rendered pages, and the client's address."""

import hmac
import ipaddress
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def login_required_htmx(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """login_required that sends an htmx poll whose session expired to the login page as a
    whole page, instead of swapping the login form into a fragment of the page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        path = request.get_full_path()
        if getattr(request, "htmx", False):
            login = redirect_to_login(request.htmx.current_url_abs_path or path)
            return HttpResponseClientRedirect(login["Location"])
        return redirect_to_login(path)

    return wrapper


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The form's ``next`` if it stays on this site, else ``fallback`` (no open redirect)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def has_metrics_token(request: HttpRequest) -> bool:
    """The request carries ``Authorization: Bearer $MONITORING_METRICS_TOKEN`` (a set one)."""
    token = settings.MONITORING_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token)


def client_address(request: HttpRequest) -> str:
    """The address of the client, as the login lockout and the rate limits count it.

    Behind TRUSTED_PROXY_COUNT proxies that each append the address they saw to
    X-Forwarded-For, the client is that many entries from the right: whatever the client
    wrote itself stands further left and is never believed. "" when there is none.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    address = request.META.get("REMOTE_ADDR") or ""
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= proxies and forwarded[-proxies]:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        # Not an address (a misconfigured proxy, a request built in code): the lockout's
        # address column holds addresses only.
        return ""
