from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import PasswordResetView
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from health_check.views import HealthCheckView

from apps.core.access import client_address, has_metrics_token
from apps.core.health import readiness_checks
from apps.core.ratelimit import minutes_text, rate_limit_hit


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No I/O, so a slow database never kills it."""
    return HttpResponse("ok\n", content_type="text/plain")


class ReadinessView(HealthCheckView):
    """Readiness: database, cache, Redis and migrations; 503 tells the balancer to wait.

    Anyone sees the overall status code and each check's name with "OK" or "unavailable".
    Staff and holders of MONITORING_METRICS_TOKEN (Authorization: Bearer) also see the
    details: hosts, ports, database numbers and errors, in every format the library offers.
    """

    def get_checks(self):
        self.checks = readiness_checks()
        return super().get_checks()

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        ready = response.status_code == 200
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
