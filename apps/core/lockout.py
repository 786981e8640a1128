"""The login lockout (django-axes): who is refused, and what the login page then says.

Axes counts failed logins per (username, client address) in the database and, past
LOGIN_FAILURE_LIMIT, refuses that pair for LOGIN_LOCKOUT_MINUTES even with the right
password. Both login forms (/accounts/login/ and the admin's) go through Django's
``authenticate``, so both are covered; ``lockout_response`` (AXES_LOCKOUT_CALLABLE) turns
the refusal into the same login page with the reason, status 429 and ``Retry-After``.
"""

import math
from datetime import datetime, timedelta

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from apps.core.ratelimit import minutes_text


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check, for logins that come with a request.

    ``authenticate()`` without a request (a shell, a script, the test client's
    ``login()``) has no client address to count or refuse: it is left to the next backend
    instead of failing as Axes' own backend does.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_ends(*, username: str | None, address: str | None) -> datetime:
    """When the lockout of ``username`` from ``address`` ends: the cool-off after its last failure."""
    attempts = AccessAttempt.objects.filter(username=username, ip_address=address or None)
    last = attempts.order_by("-attempt_time").values_list("attempt_time", flat=True).first()
    return (last or timezone.now()) + timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The login page again, its form saying why and for how long (429, Retry-After)."""
    ends = lockout_ends(
        username=get_client_username(request, credentials),
        address=getattr(request, "axes_ip_address", None),
    )
    seconds = max(1, math.ceil((ends - timezone.now()).total_seconds()))
    message = (
        f"Too many failed attempts for this account from your address; try again in {minutes_text(seconds)}."
    )
    context = getattr(original_response, "context_data", None) or {}
    form = context.get("form")
    if isinstance(original_response, TemplateResponse) and form is not None:
        # The form's own "wrong password" would be misleading: the password was not checked.
        form.errors[NON_FIELD_ERRORS] = form.error_class([message], error_class="nonfield")
        response: HttpResponse = TemplateResponse(
            request, original_response.template_name, context, status=429
        ).render()
    else:
        response = HttpResponse(message + "\n", status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
