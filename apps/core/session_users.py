"""Who is logged in, per request, without a session-store round trip or a user query.

The session lives in a signed cookie (``SESSION_SIGNED_COOKIE``): reading it is an HMAC
check, not a Redis GET. A signed cookie alone cannot be ended by the server, so two
checks against the user keep sessions revocable:

1. Django's session hash (derived from the password hash): a password change ends every
   other session of the user.
2. The user's session generation (``SessionGeneration``), written into the session at
   login: logging out increments it, so every cookie issued before — a copy replayed
   after the logout included — is refused. Logging out therefore ends the user's sessions
   on every device: nothing is kept per session on the server.

The user row and its generation are kept in the cache for ``USER_CACHE_SECONDS``, so a
logged-in request costs one cache GET instead of a query; every save or delete of the
user, a change of its groups or permissions (or of a group's permissions) and a logout
drop the entry (``apps.core.receivers``). Writes that bypass signals
(``QuerySet.update``) are seen when the entry expires. A cache that fails is skipped:
the user comes from the database and the request goes on.

API tokens likewise: the token row is cached by its digest (dropped when it is saved or
deleted), and its user comes through the same cached entry, so a bearer request costs
two cache GETs instead of a query.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user, get_user_model, login
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string

from apps.core.models import TOKEN_PREFIX, ApiToken, SessionGeneration, token_digest

logger = logging.getLogger("apps.core.session_users")

GENERATION_KEY = "_auth_generation"


def _cache_key(user_id) -> str:
    return f"auth:user:{user_id}"


def _token_key(digest: str) -> str:
    return f"auth:token:{digest}"


def _cache_seconds() -> int:
    return int(getattr(settings, "USER_CACHE_SECONDS", 0))


# What _cache_get answers when the cache failed: the caller does not try to store either.
UNAVAILABLE = object()


def _cache_get(key: str):
    if _cache_seconds() <= 0:
        return UNAVAILABLE
    try:
        return cache.get(key)
    except Exception:
        logger.warning("user cache unavailable; reading %s from the database", key, exc_info=True)
        return UNAVAILABLE


def _cache_set(key: str, value) -> None:
    try:
        cache.set(key, value, _cache_seconds())
    except Exception:
        logger.warning("user cache unavailable; %s not cached", key, exc_info=True)


def _cache_forget(key: str) -> None:
    """Drop a cached entry, now and again when the current transaction commits (a request
    that read the old row meanwhile must not keep it cached)."""

    def forget() -> None:
        try:
            cache.delete(key)
        except Exception:
            logger.warning("user cache unavailable; %s expires with its TTL", key, exc_info=True)

    forget()
    transaction.on_commit(forget)


def user_entry(user_id) -> tuple | None:
    """``(user, session generation)`` of ``user_id``, from the cache or one query; None if gone."""
    cached = _cache_get(_cache_key(user_id))
    if cached is not None and cached is not UNAVAILABLE:
        return cached
    user = get_user_model()._default_manager.select_related("session_generation").filter(pk=user_id).first()
    if user is None:
        return None
    return _user_entry_of(user, store=cached is not UNAVAILABLE)


def _user_entry_of(user, *, store: bool) -> tuple:
    """The entry of a user read with its ``session_generation`` (select_related), cached."""
    try:
        generation = user.session_generation.generation
    except SessionGeneration.DoesNotExist:
        generation = 0
    entry = (user, generation)
    if store:
        _cache_set(_cache_key(user.pk), entry)
    return entry


def user_forget(user_id) -> None:
    _cache_forget(_cache_key(user_id))


def api_token_active(*, raw: str) -> ApiToken | None:
    """The active (unexpired, of an active user) token ``raw`` with its user, or None: the
    token row cached by its digest, its user through ``user_entry``."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    key = _token_key(token_digest(raw))
    token = _cache_get(key)
    if token is None or token is UNAVAILABLE:
        # One query for the token and its user's entry (the user is read afresh from the
        # user's own entry below whenever the token comes from the cache).
        stored = (
            ApiToken.objects.select_related("user__session_generation")
            .filter(digest=token_digest(raw))
            .first()
        )
        if stored is None:
            return None
        entry = _user_entry_of(stored.user, store=token is None)
        if token is None:
            _cache_set(key, stored)
        token = stored
    else:
        entry = user_entry(token.user_id)
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None
    if entry is None or not entry[0].is_active:
        return None
    token.user = entry[0]
    return token


def api_token_forget(*, digest: str) -> None:
    _cache_forget(_token_key(digest))


def session_generation_bump(*, user_id) -> None:
    """End every session ``user_id`` holds (logout): the generation they carry is now old."""
    updated = SessionGeneration.objects.filter(user_id=user_id).update(generation=F("generation") + 1)
    if not updated:
        SessionGeneration.objects.get_or_create(user_id=user_id, defaults={"generation": 1})
    user_forget(user_id)


class CachedModelBackend(ModelBackend):
    """Django's ModelBackend, reading the session's user through ``user_entry``."""

    def get_user(self, user_id):
        entry = user_entry(user_id)
        if entry is None:
            return None
        user, generation = entry
        user._session_generation = generation
        return user if self.user_can_authenticate(user) else None


def session_user(request: HttpRequest):
    """Django's ``get_user`` (backend, session hash), then the generation check."""
    user = get_user(request)
    if user.is_authenticated:
        generation = getattr(user, "_session_generation", None)
        if generation is None:  # a session of another backend
            entry = user_entry(user.pk)
            generation = entry[1] if entry else None
        if request.session.get(GENERATION_KEY) != generation:
            request.session.flush()
            return AnonymousUser()
    return user


class SessionUserMiddleware(AuthenticationMiddleware):
    """``request.user`` through ``session_user`` (in place of Django's AuthenticationMiddleware)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _request_user(request))


def _request_user(request: HttpRequest):
    if not hasattr(request, "_cached_user"):
        request._cached_user = session_user(request)
    return request._cached_user


def session_issue(*, user) -> str:
    """A logged-in session for ``user`` outside a request (load tests, benchmarks): the
    value of its session cookie, with everything a login records (backend, hash, generation)."""
    request = HttpRequest()
    request.method = "GET"
    request.META = {"REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80"}
    request.session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    login(request, user, backend=f"{CachedModelBackend.__module__}.{CachedModelBackend.__qualname__}")
    request.session.save()
    return request.session.session_key
