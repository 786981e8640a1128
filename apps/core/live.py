"""Live pages (polled by htmx): private, revalidated each time, 304 when unchanged.

A live page or fragment carries the ETag of the state it shows. Its poller sends the tag
back as If-None-Match (a header the page sets itself, ``poll_headers``: the browser then
passes a 304 through instead of answering from its cache), and an unchanged state costs
a bodyless 304 that htmx swaps nothing for.
"""

import hashlib
import json
from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from apps.core.caching import not_modified

ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


def live_etag(user: AbstractBaseUser | AnonymousUser, *parts: object) -> str:
    """The tag of what a live page shows: ``parts`` (its changing state) as seen by ``user``
    (what a page shows depends on who looks: staff see owners and tracebacks)."""
    digest = hashlib.sha256(repr((user.pk, user.is_staff, *parts)).encode()).hexdigest()
    return f'"{digest[:32]}"'


def poll_headers(etag: str) -> str:
    """The poller's ``hx-headers``: it asks with the tag of what the page shows."""
    return json.dumps({"If-None-Match": etag})


def live_headers(response: ResponseT) -> ResponseT:
    # Live state: caches may keep it but must ask each time; the fragment an htmx poll
    # gets and the whole page differ, and so do users.
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["HX-Request", "Cookie"])
    return response


def live_response(
    request: HttpRequest,
    render: Callable[[], HttpResponse],
    *,
    etag: str | None = None,
    revalidate: bool = True,
) -> HttpResponse:
    """A live page or fragment with the live headers, tagged with ``etag`` when given.

    With a tag (and ``revalidate``), a client that already shows this state gets a 304
    (empty body, with the tag) and ``render`` is not called: an unchanged poll costs
    nothing of what rendering reads.
    """
    if etag and revalidate:
        unchanged = not_modified(request, etag=etag)
        if unchanged is not None:
            return live_headers(unchanged)
    response = render()
    if etag:
        response["ETag"] = etag
    return live_headers(response)
