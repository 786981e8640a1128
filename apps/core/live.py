"""Responses of live pages (polled by htmx): private, revalidated each time, 304 when unchanged."""

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from apps.core.caching import not_modified


def live_headers(response: HttpResponseBase) -> HttpResponseBase:
    # Live state: caches may keep it but must ask each time; the fragment an htmx poll
    # gets and the whole page differ, and so do users.
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["HX-Request", "Cookie"])
    return response


def live_not_modified(request: HttpRequest, etag: str) -> HttpResponse | None:
    """A 304 (empty body, with the tag and live headers) if the client shows this state, else None."""
    response = not_modified(request, etag=etag)
    return None if response is None else live_headers(response)
