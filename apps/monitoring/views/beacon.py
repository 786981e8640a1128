"""The browser-metrics beacon: navigator.sendBeacon() posts a small JSON body here.

A beacon cannot carry a CSRF header, so the view is exempt from CSRF and instead accepts
only what it can afford to: a same-origin POST (when the browser says its Origin) of at
most MAX_BODY bytes of JSON with known fields in sane ranges, for a path that resolves to
one of our routes (the series is the route pattern, never the raw path), at most
MONITORING_BROWSER_RATE_LIMIT beacons per client address (behind TRUSTED_PROXY_COUNT
proxies, the forwarded one) per minute and process. It only
adds to the in-process recorder: no I/O.
"""

import json
import threading
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.access import client_address
from apps.monitoring.models import MetricKind
from apps.monitoring.recorder import recorder

MAX_BODY = 2048
# field -> (series kind, largest accepted value)
FIELDS = {
    "fcp": (MetricKind.BROWSER_FCP, 600_000.0),
    "lcp": (MetricKind.BROWSER_LCP, 600_000.0),
    "inp": (MetricKind.BROWSER_INP, 600_000.0),
    "cls": (MetricKind.BROWSER_CLS, 100.0),
    "ttfb": (MetricKind.BROWSER_TTFB, 600_000.0),
    "load": (MetricKind.BROWSER_LOAD, 600_000.0),
}
MAX_CLIENTS = 10000

_lock = threading.Lock()
_seen: dict[str, tuple[int, int]] = {}  # client address -> (minute, beacons)


def _rate_limited(address: str) -> bool:
    minute = int(time.time() // 60)
    with _lock:
        if len(_seen) > MAX_CLIENTS:
            _seen.clear()
        held_minute, count = _seen.get(address, (minute, 0))
        if held_minute != minute:
            count = 0
        count += 1
        _seen[address] = (minute, count)
    return count > settings.MONITORING_BROWSER_RATE_LIMIT


def _bad(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def parse_beacon(body: bytes) -> tuple[str, dict[str, float]]:
    """(path, {field: value}) from a beacon body; ValueError says what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("Body is not JSON.") from None
    if not isinstance(data, dict):
        raise ValueError("Body must be a JSON object.")
    unknown = set(data) - set(FIELDS) - {"path"}
    if unknown:
        raise ValueError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    path = data.get("path")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 500:
        raise ValueError("path must be the page's path, starting with /.")
    values = {}
    for name, (_, largest) in FIELDS.items():
        if name not in data or data[name] is None:
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= largest:
            raise ValueError(f"{name} must be a number from 0 to {largest:g}.")
        values[name] = float(value)
    if not values:
        raise ValueError("No metric given.")
    return path, values


@csrf_exempt
@require_POST
def beacon(request: HttpRequest) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin and not url_has_allowed_host_and_scheme(
        origin + "/", allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return _bad("Cross-origin beacons are not accepted.", 403)
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY:
        return _bad(f"Body too large (at most {MAX_BODY} bytes).", 413)
    if _rate_limited(client_address(request)):
        return _bad("Too many beacons; try again in a minute.", 429)
    try:
        path, values = parse_beacon(request.body[: MAX_BODY + 1])
    except ValueError as exc:
        return _bad(str(exc))
    try:
        match = resolve(path.split("?", 1)[0])
    except Resolver404:
        return _bad("path is not a page of this site.")
    route = f"/{match.route}"
    for name, value in values.items():
        kind, _ = FIELDS[name]
        # CLS has no unit: thousandths share the millisecond buckets.
        recorder.observe(kind, route, value * 1000.0 if name == "cls" else value)
    return HttpResponse(status=204)
