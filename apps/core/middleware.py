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

from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from apps.core import routing

STICKY_COOKIE = "tempo_rw"
STICKY_SALT = "apps.core.middleware.read-your-writes"


def _sticky_seconds() -> float:
    return float(getattr(settings, "REPLICA_STICKY_SECONDS", 5.0))


class ReplicaRoutingMiddleware:
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
