import hashlib
import json
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import PasswordResetView
from django.core.exceptions import ObjectDoesNotExist
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from health_check.views import HealthCheckView

from apps.core import pwa
from apps.core.access import client_address, has_metrics_token
from apps.core.health import readiness_checks
from apps.core.ratelimit import minutes_text, rate_limit_hit


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No I/O, so a slow database never kills it."""
    return HttpResponse("ok\n", content_type="text/plain")


# Checks whose failure leaves the process ready (docs/scaling.md, "Which Redis holds what").
READY_WITHOUT = frozenset({"Cache", "Redis"})


class ReadinessView(HealthCheckView):
    """Readiness: database and migrations; 503 tells the balancer to wait. Cache and Redis
    are reported too, but their outage does not make the process unready.

    Anyone sees the overall status code and each check's name with "OK" or "unavailable".
    Staff and holders of MONITORING_METRICS_TOKEN (Authorization: Bearer) also see the
    details: hosts, ports, database numbers and errors, in every format the library offers.
    """

    def get_checks(self):
        self.checks = readiness_checks()
        return super().get_checks()

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        # Redis holds copies and fast paths only: without it this process still serves
        # (slower), so a Redis outage shows as "unavailable" but keeps the process ready.
        ready = not any(
            result.error for result in self.results if type(result.check).__name__ not in READY_WITHOUT
        )
        response.status_code = 200 if ready else 503
        if not has_metrics_token(request) and not (await request.auser()).is_staff:
            return self._summary(request, status=200 if ready else 503)
        if response.get("Content-Type", "").startswith("text/html"):
            # The library's status page styles itself inline; it shows no user input.
            response._csp_update = {"style-src": "'unsafe-inline'"}
        return response

    def _summary(self, request: HttpRequest, *, status: int) -> HttpResponse:
        states = {
            type(result.check).__name__: "unavailable" if result.error else "OK" for result in self.results
        }
        wants_text = request.GET.get("format") == "text" or request.headers.get("Accept", "").startswith(
            "text/plain"
        )
        if wants_text:
            body = "".join(f"{name}: {state}\n" for name, state in states.items())
            return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
        return JsonResponse(states, status=status)


# Password reset requests are counted per hour.
PASSWORD_RESET_WINDOW = 3600


class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset, at most PASSWORD_RESET_ADDRESS_LIMIT requests per hour from
    one client address and PASSWORD_RESET_EMAIL_LIMIT for one e-mail address (whether or not
    an account has it, so the answer tells nothing about accounts); then a 429 with the form."""

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        by_address = rate_limit_hit(
            scope="password-reset-address",
            key=client_address(self.request),
            limit=settings.PASSWORD_RESET_ADDRESS_LIMIT,
            window=PASSWORD_RESET_WINDOW,
        )
        by_email = rate_limit_hit(
            scope="password-reset-email",
            key=email,
            limit=settings.PASSWORD_RESET_EMAIL_LIMIT,
            window=PASSWORD_RESET_WINDOW,
        )
        if by_address.allowed and by_email.allowed:
            return super().form_valid(form)
        refused = by_address if not by_address.allowed else by_email
        which = "from your address" if refused is by_address else "for this e-mail address"
        form.add_error(
            "email",
            f"Too many password reset requests {which}; try again in {minutes_text(refused.retry_after)}.",
        )
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(refused.retry_after)
        return response


def missing_is_404(
    view: Callable[..., HttpResponseBase],
    *,
    missing: tuple[type[Exception], ...] = (ObjectDoesNotExist,),
) -> Callable[..., HttpResponseBase]:
    """A third-party view that lets ``DoesNotExist`` (or what ``missing`` names) escape, a
    500, answers 404 instead. The view runs first, so its own login check still decides."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except missing:
            raise Http404("Not found.") from None

    return wrapper


def _revalidated(request: HttpRequest, body: str, *, content_type: str) -> HttpResponseBase:
    """``body`` with ``Cache-Control: no-cache`` and an ETag: browsers ask each time and
    get a 304 while it is unchanged."""
    etag = quote_etag(hashlib.sha256(body.encode()).hexdigest()[:20])
    response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    patch_cache_control(response, no_cache=True)
    return get_conditional_response(request, etag=etag, response=response)


@require_safe
def service_worker(request: HttpRequest) -> HttpResponseBase:
    """The service worker, from the site root so that its scope is the whole site."""
    body = render_to_string("core/service_worker.js", {"config": pwa.worker_config()})
    return _revalidated(request, body, content_type="text/javascript; charset=utf-8")


@require_safe
def web_manifest(request: HttpRequest) -> HttpResponseBase:
    body = json.dumps(pwa.web_manifest(), indent=2)
    return _revalidated(request, body, content_type="application/manifest+json")


@require_safe
@cache_control(public=True, max_age=3600)
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico where a page links no icon (the admin's pages): the
    icon's hashed name, which changes with a deploy, so the redirect is kept an hour only."""
    return HttpResponseRedirect(static(pwa.ICON))


@require_safe
@cache_control(no_cache=True)
def offline(request: HttpRequest) -> HttpResponse:
    """What the service worker shows for a page the network cannot fetch. It reads no
    session, user or database: the worker stores it once, for everyone."""
    return render(request, "core/offline.html")
