"""When Silk records a request (never by default; sampled, armed for one endpoint, or on
request), and what it may store of it (no secrets: see "What Silk stores" below).

Silk's middleware asks ``silk_should_record`` for every request (SILKY_INTERCEPT_FUNC), so
the common answer — no — costs no I/O:

- MONITORING_SILK_SAMPLE_RATE (0 by default) records that fraction of all requests;
- an endpoint armed from its page records its next N requests: the armed set is held in
  process memory and refreshed from the cache by the metrics thread every few seconds;
  only a request to an armed endpoint touches the cache (to count down);
- a staff user may send ``X-Silk-Record: 1`` to record one request (the session is read
  only when the header is there).
"""

import base64
import hashlib
import json
import random
import re
import time

from django.conf import settings
from django.contrib.auth import get_user
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import Resolver404, resolve

ARMED_KEY = "monitoring:silk:armed"
# Armed endpoints stop recording after this long even if their count was not used up.
ARMED_TTL_SECONDS = 3600

_armed: dict[str, float] = {}


def left_key(endpoint: str) -> str:
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


# --- What Silk stores -------------------------------------------------------------------
#
# Silk masks the request headers named in SILKY_SENSITIVE_KEYS (exact names), Authorization
# and cookies, and the values of body keys matching those words. It stores query strings,
# response headers and response bodies as they are, and the SQL of each query with its
# values written in. So, before any of its rows is saved (pre_save, Django's public hook;
# receivers.py connects these):
#
# - a response sent with Cache-Control: no-store (every answer that shows a secret or a
#   token) keeps no body at all;
# - headers whose names contain a sensitive word (x-csrftoken, set-cookie, ...) are masked,
#   in requests and responses;
# - in query strings and bodies, JSON values under sensitive keys are masked, and so is
#   anything shaped like a secret we issue (whsec_..., tempo_... API tokens, CSRF tokens
#   in forms) wherever it appears.
#
# Queries are kept out by SILKY_IGNORE_QUERIES (settings): Silk saves them in bulk, which
# sends no signal.

MASK = "********************"
NOT_STORED = "(not stored: the response was sent with Cache-Control: no-store)"
_SECRET_SHAPES = re.compile(
    r"whsec_[A-Za-z0-9+/=]+"
    r"|tempo_[A-Za-z0-9_-]{20,}"
    r"|(?<=name=\"csrfmiddlewaretoken\" value=\")[^\"]+"
)


def _sensitive_names() -> re.Pattern:
    words = sorted(settings.SILKY_SENSITIVE_KEYS)
    return re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)


def _masked_value(value, names: re.Pattern):
    if isinstance(value, dict):
        return {
            key: MASK if names.search(str(key)) else _masked_value(item, names) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked_value(item, names) for item in value]
    if isinstance(value, str):
        return _SECRET_SHAPES.sub(MASK, value)
    return value


def _masked_text(text, names: re.Pattern):
    """A body or query string: JSON is masked by key and shape, any other text by shape."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return text
    if not text:
        return text
    text = str(text)
    try:
        data = json.loads(text)
    except ValueError:
        return _SECRET_SHAPES.sub(MASK, text)
    if isinstance(data, dict | list):
        return json.dumps(_masked_value(data, names), indent=4, sort_keys=True)
    return _SECRET_SHAPES.sub(MASK, text)


def _masked_headers(encoded: str | None, names: re.Pattern) -> tuple[str | None, dict]:
    try:
        headers = json.loads(encoded or "{}")
    except ValueError:
        headers = None
    if not isinstance(headers, dict):
        # Nothing we can read is kept: an empty set of headers.
        return "{}", {}
    masked = {
        name: MASK if names.search(name) else _SECRET_SHAPES.sub(MASK, str(value))
        for name, value in headers.items()
    }
    return json.dumps(masked), headers


def silk_request_scrub(sender, instance, **kwargs) -> None:
    """pre_save of silk.Request: mask secrets in its headers, query string and body."""
    names = _sensitive_names()
    instance.encoded_headers, _ = _masked_headers(instance.encoded_headers, names)
    instance.query_params = _masked_text(instance.query_params, names)
    instance.body = _masked_text(instance.body, names)
    instance.raw_body = _masked_text(instance.raw_body, names)


def silk_response_scrub(sender, instance, **kwargs) -> None:
    """pre_save of silk.Response: no body for no-store answers; secrets masked in the rest."""
    names = _sensitive_names()
    instance.encoded_headers, headers = _masked_headers(instance.encoded_headers, names)
    cache_control = next((str(v) for k, v in headers.items() if k.lower() == "cache-control"), "")
    if "no-store" in cache_control.lower():
        instance.body = NOT_STORED
        instance.raw_body = ""
        return
    instance.body = _masked_text(instance.body, names)
    if instance.raw_body:
        try:
            raw = base64.b64decode(instance.raw_body).decode("utf-8")
        except ValueError:
            # Not text: nothing of ours to find in it, and nothing Silk could show either.
            instance.raw_body = ""
            return
        instance.raw_body = base64.b64encode(_masked_text(raw, names).encode("utf-8")).decode("ascii")
