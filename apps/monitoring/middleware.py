"""Request metrics, always on: per route pattern and method, in process memory only.

Placed right after the session middleware (DESIGN.md). Per request it installs a
QueryWatch on each database connection, times the response, and adds one observation to
the in-process recorder: no database or Redis I/O on the request path.
"""

import time
from collections.abc import Callable

from django.db import connections
from django.http import HttpRequest, HttpResponseBase

from apps.monitoring.models import MetricKind
from apps.monitoring.querywatch import QueryWatch
from apps.monitoring.recorder import recorder

UNMATCHED = "(unmatched)"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def endpoint_key(request: HttpRequest) -> str:
    """``GET /jobs/<uuid:job_id>/``: the method and URL route pattern, never the raw path
    (a raw path per order id would make one series per order)."""
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    match = request.resolver_match
    if match is None:
        return f"{method} {UNMATCHED}"
    return f"{method} /{match.route}"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.aliases = list(connections)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        watch = QueryWatch("request")
        request._monitoring_watch = watch
        wrapper_lists = [connections[alias].execute_wrappers for alias in self.aliases]
        for wrappers in wrapper_lists:
            wrappers.append(watch)
        start = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            for wrappers in wrapper_lists:
                if wrappers and wrappers[-1] is watch:
                    wrappers.pop()
                elif watch in wrappers:
                    wrappers.remove(watch)
        elapsed = (time.perf_counter() - start) * 1000.0
        key = endpoint_key(request)
        status = response.status_code
        recorder.observe(
            MetricKind.REQUEST,
            key,
            elapsed,
            error=status >= 500,
            client_error=400 <= status < 500,
            queries=watch.count,
            query_ms=watch.ms,
        )
        if watch.captures:
            if not watch.source:
                watch.source = key
            watch.finish()
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        # The route is known from here on: name the queries after it.
        watch = getattr(request, "_monitoring_watch", None)
        if watch is not None:
            key = endpoint_key(request)
            watch.name(key, route=key)
