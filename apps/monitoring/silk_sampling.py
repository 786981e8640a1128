"""When Silk records a request: never by default; sampled, armed for one endpoint, or on request.

Silk's middleware asks ``silk_should_record`` for every request (SILKY_INTERCEPT_FUNC), so
the common answer — no — costs no I/O:

- MONITORING_SILK_SAMPLE_RATE (0 by default) records that fraction of all requests;
- an endpoint armed from its page records its next N requests: the armed set is held in
  process memory and refreshed from the cache by the metrics thread every few seconds;
  only a request to an armed endpoint touches the cache (to count down);
- a staff user may send ``X-Silk-Record: 1`` to record one request (the session is read
  only when the header is there).
"""

import random
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import Resolver404, resolve

ARMED_KEY = "monitoring:silk:armed"
# Armed endpoints stop recording after this long even if their count was not used up.
ARMED_TTL_SECONDS = 3600

_armed: dict[str, float] = {}


def left_key(endpoint: str) -> str:
    import hashlib

    return "monitoring:silk:left:" + hashlib.sha1(endpoint.encode(), usedforsecurity=False).hexdigest()


def silk_refresh() -> None:
    """Reload the armed endpoints {endpoint: expires_at} from the cache into this process."""
    global _armed
    now = time.time()
    _armed = {endpoint: until for endpoint, until in (cache.get(ARMED_KEY) or {}).items() if until > now}


def armed_endpoints() -> dict[str, float]:
    return dict(_armed)


def _endpoint_of(request: HttpRequest) -> str | None:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    return f"{request.method} /{match.route}"


def _is_staff(request: HttpRequest) -> bool:
    from django.contrib.auth import get_user

    try:
        return bool(get_user(request).is_staff)
    except Exception:
        return False


def silk_should_record(request: HttpRequest) -> bool:
    rate = settings.MONITORING_SILK_SAMPLE_RATE
    if rate > 0 and (rate >= 1 or random.random() < rate):  # noqa: S311 (sampling, not security)
        return True
    if settings.MONITORING_SILK_HEADER in request.META:
        return _is_staff(request)
    if _armed:
        endpoint = _endpoint_of(request)
        if endpoint is not None and _armed.get(endpoint, 0) > time.time():
            try:
                left = cache.decr(left_key(endpoint))
            except ValueError:
                left = -1
            return left >= 0
    return False
