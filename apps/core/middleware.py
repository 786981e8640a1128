"""The middleware of apps.core: read-your-writes replica routing, request guards, headers."""

from collections.abc import Callable
from http import HTTPStatus

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.defaultfilters import filesizeformat

from apps.core import routing

STICKY_COOKIE = "tempo_rw"
STICKY_SALT = "apps.core.middleware.read-your-writes"


def _sticky_seconds() -> float:
    return float(getattr(settings, "REPLICA_STICKY_SECONDS", 5.0))


class ReplicaRoutingMiddleware:
    """Read-your-writes for replica routing (``apps.core.routing``), one flow per request.

    Position (DESIGN.md): after the request metrics, before Silk.

    1. A request opens a routing flow that may read from a replica, unless its client wrote
       in the last ``REPLICA_STICKY_SECONDS`` (a signed cookie says so): then it reads from
       the primary, and sees its own writes.
    2. A request that writes (the router saw a write to a domain table) reads from the
       primary for the rest of the request, and its response sets the cookie.
    3. A safe request (GET/HEAD) whose replica failed (connection refused, reset, pool
       timeout) before it wrote anything runs once more on the primary, so that a replica
       stopping under load costs latency, not errors.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not routing.routing_enabled():
            return self.get_response(request)
        cookie = request.get_signed_cookie(
            STICKY_COOKIE, default=None, salt=STICKY_SALT, max_age=_sticky_seconds()
        )
        sticky = cookie is not None
        with routing.flow(replica_allowed=not sticky) as state:
            request._replica_flow = state
            response = self.get_response(request)
        if state.wrote:
            response.set_signed_cookie(
                STICKY_COOKIE,
                "1",
                salt=STICKY_SALT,
                max_age=int(_sticky_seconds()) or 1,
                httponly=True,
                secure=settings.SESSION_COOKIE_SECURE,
                samesite="Lax",
            )
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        request._replica_view = (view_func, view_args, view_kwargs)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        state: routing.Flow | None = getattr(request, "_replica_flow", None)
        view = getattr(request, "_replica_view", None)
        if (
            state is None
            or view is None
            or not state.replica_used
            or state.wrote
            or request.method not in ("GET", "HEAD")
            or not isinstance(exception, OperationalError | InterfaceError)
        ):
            return None
        routing.monitor.mark_down(state.replica, str(exception))
        # This request reads from the primary from now on (as if it had written).
        state.replica_allowed = False
        state.replica_used = False
        view_func, view_args, view_kwargs = view
        return view_func(request, *view_args, **view_kwargs)


# --- Request guards and security headers -------------------------------------------------

# config/urls.py mounts the JSON API here.
API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"message": message}, status=status)
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


NUL_MESSAGE = "Invalid input: text may not contain NUL characters (\\u0000)."


class RequestGuardMiddleware:
    """Refuses input that nothing behind it could store, before anything reads it.

    1. A NUL character in the path, a query-string key or value, an urlencoded form field
       or a cookie: 400. PostgreSQL text cannot hold NUL, so each one would otherwise end
       in a DataError (a 500) wherever it reached a query: a filter, Silk's record of the
       request, the session lookup. JSON bodies are checked by the API's parser (422).
    2. A body that is not a file upload and whose Content-Length is over
       DATA_UPLOAD_MAX_MEMORY_SIZE: 413, unread (Django would answer 400 on reading it).
       Multipart uploads have their own limit (apps.commerce.uploads).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._too_large(request) or self._nul(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def _too_large(self, request: HttpRequest) -> HttpResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or request.content_type == "multipart/form-data":
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= limit:
            return None
        return _refusal(
            request,
            413,
            f"The request body is {filesizeformat(length)}, more than the limit of {filesizeformat(limit)}.",
        )

    def _nul(self, request: HttpRequest) -> HttpResponse | None:
        if "\x00" in request.path:
            return _refusal(request, 400, NUL_MESSAGE)
        fields = [request.GET]
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            fields.append(request.POST)
        for data in fields:
            for key, values in data.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return _refusal(request, 400, NUL_MESSAGE)
        for key, value in request.COOKIES.items():
            if "\x00" in key or "\x00" in value:
                return _refusal(request, 400, NUL_MESSAGE)
        return None


class ApiErrorBodyMiddleware:
    """Every error under /api/ answers JSON ``{"message": …}``, as the API's own errors do.

    Ninja renders the errors of its operations; this covers what it never sees: a path no
    route matches (Django's 404), a method an operation does not have (ninja's bare 405),
    a refused request (400) and an unhandled exception (Django's 500 page, logged as
    usual). With DEBUG on, a 500 keeps Django's technical page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api_request(request)
            or response.get("Content-Type", "").startswith("application/json")
            or (response.status_code >= 500 and settings.DEBUG)
        ):
            return response
        json_response = JsonResponse(
            {"message": self._message(request, response)}, status=response.status_code
        )
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                json_response[header] = response[header]
        return json_response

    @staticmethod
    def _message(request: HttpRequest, response: HttpResponse) -> str:
        status = response.status_code
        if status == 404:
            return f"Not found: nothing at {request.path}."
        if status == 405:
            allowed = response.get("Allow", "none")
            return f"Method not allowed: {request.method} {request.path} accepts {allowed}."
        if status == 500:
            return "Internal server error: it was logged; try again later."
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return f"{phrase}."


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY), relaxed for Silk's pages only.

    Silk's templates use inline event handlers and styles; its pages are staff-only and
    show what Silk recorded, escaped. Everything else (the admin, the API docs, our pages)
    runs with no inline script or style at all.
    """

    SILK_RELAXED = {
        "script-src": ["'self'", "'unsafe-inline'"],
        "style-src": ["'self'", "'unsafe-inline'"],
    }

    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False):
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.namespace == "silk":
            parts.replace = {**(parts.replace or {}), **self.SILK_RELAXED}
            # A nonce in script-src would make browsers ignore 'unsafe-inline'.
            parts.nonce = None
        return parts


class PermissionsPolicyMiddleware:
    """Permissions-Policy (settings.PERMISSIONS_POLICY): browser features the site never uses."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.PERMISSIONS_POLICY
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        return response
