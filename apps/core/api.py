"""What every API router shares: authentication, error bodies, keyset cursors, page sizes."""

import base64
import binascii
import json

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from apps.core.selectors import api_token_get_active
from apps.core.services import api_token_touch


class TokenAuth(HttpBearer):
    """`Authorization: Bearer tempo_…` with a personal API token."""

    def authenticate(self, request: HttpRequest, token: str):
        api_token = api_token_get_active(raw=token)
        if api_token is None:
            return None
        api_token_touch(token=api_token)
        # Downstream code (permissions, owners) reads request.user like for sessions.
        request.user = api_token.user
        return api_token.user


# Token first: a request that carries a bearer token is judged by it alone.
api_auth = [TokenAuth(), SessionAuth(csrf=True)]


def install_error_handlers(api: NinjaAPI) -> None:
    """Every error is JSON with a human-readable ``message``."""

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        problems = []
        for error in exc.errors:
            where = ".".join(
                str(part) for part in error.get("loc", ()) if part not in ("query", "body", "path")
            )
            problems.append(f"{where}: {error.get('msg')}" if where else error.get("msg"))
        return api.create_response(
            request, {"message": "Invalid input: " + "; ".join(problems), "detail": exc.errors}, status=422
        )

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, exc):
        return api.create_response(
            request,
            {"message": "Authentication required: log in or send 'Authorization: Bearer <token>'."},
            status=401,
        )

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, {"message": str(exc) or "Not found."}, status=404)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        response = api.create_response(request, {"message": exc.message}, status=exc.status_code)
        if isinstance(exc, TooManyRequests):
            response["Retry-After"] = str(exc.retry_after)
        return response


class TooManyRequests(HttpError):
    """429 with ``Retry-After``: a rate limit or a quota is reached; the message says which."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(429, message)
        self.retry_after = max(1, int(retry_after))


class InvalidCursor(HttpError):
    def __init__(self) -> None:
        super().__init__(422, "Invalid input: cursor is not one this API issued.")


def cursor_encode(values: list) -> str:
    """An opaque keyset cursor: the sort key of the last row a page returned."""
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def cursor_decode(cursor: str, *, length: int) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if not isinstance(values, list) or len(values) != length:
        raise InvalidCursor()
    return values


def page_limit(requested: int | None) -> int:
    """The page size: the default when not asked, never above the configured maximum."""
    if requested is None:
        return settings.API_PAGE_SIZE
    if requested < 1:
        raise HttpError(422, f"Invalid input: limit must be at least 1 (got {requested}).")
    return min(requested, settings.API_MAX_PAGE_SIZE)
