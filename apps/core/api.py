"""What every API router shares: authentication, error bodies, page schemas, page sizes."""

import re
from typing import Generic, TypeVar
from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from apps.core.access import client_address
from apps.core.cursor import InvalidCursor
from apps.core.ratelimit import rate_limit_hit, rate_limit_peek
from apps.core.services import api_token_touch
from apps.core.session_users import api_token_active, api_token_forget

AUTHENTICATION_REQUIRED = "Authentication required: log in or send 'Authorization: Bearer <token>'."
TOKEN_FAILURES_SCOPE = "api-token-failures"  # noqa: S105 (a rate-limit scope name)


class InvalidToken(AuthenticationError):
    """401 for an Authorization header that names no active token."""

    def __init__(self) -> None:
        super().__init__(
            401,
            "Authentication required: the bearer token is unknown, expired or revoked "
            "(send 'Authorization: Bearer <token>').",
        )


class ErrorOut(Schema):
    """Every error body of the API (the handlers below write them)."""

    message: str


# What any operation may answer: 400 a body that is not JSON or a NUL in the query string
# (refused before any view), 401 no or wrong credentials, 404 an unknown or foreign id,
# 422 invalid input. Operations add their own (403, 409, 429) beside these.
ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 422: ErrorOut}

ItemT = TypeVar("ItemT")


# A page of a list. Each list names its own (``class JobPageOut(CursorPageOut[JobOut])``):
# the OpenAPI component keeps that name. No docstrings here: the schema would carry them.
class PageOut(Schema, Generic[ItemT]):
    items: list[ItemT]


# A keyset page of the API (apps.core.pagination): its cursor, and its URL with the filters.
class CursorPageOut(PageOut[ItemT], Generic[ItemT]):
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next_url: str | None = Field(description="The next page's full URL with the same filters.")


class TokenAuth(HttpBearer):
    """`Authorization: Bearer tempo_…` with a personal API token.

    A request that carries an Authorization header is judged by it alone: a wrong one is a
    401 even when the request also has a valid session. Wrong ones are counted per client
    address; past API_TOKEN_FAILURE_LIMIT in API_TOKEN_FAILURE_WINDOW seconds, every bearer
    request from that address is a 429 (with Retry-After) until the window ends, before any
    lookup, so that guessing costs the database nothing.
    """

    def __call__(self, request: HttpRequest):
        header = request.headers.get(self.header)
        if header is None:
            return None
        address = client_address(request)
        window = settings.API_TOKEN_FAILURE_WINDOW
        limit = settings.API_TOKEN_FAILURE_LIMIT
        state = rate_limit_peek(scope=TOKEN_FAILURES_SCOPE, key=address, limit=limit, window=window)
        if not state.allowed:
            raise TooManyRequests(
                f"Too many requests with a wrong API token from your address; "
                f"try again in {state.retry_after} seconds.",
                retry_after=state.retry_after,
            )
        scheme, _, token = header.partition(" ")
        user = self.authenticate(request, token.strip()) if scheme.lower() == self.openapi_scheme else None
        if user is None:
            rate_limit_hit(scope=TOKEN_FAILURES_SCOPE, key=address, limit=limit, window=window)
            raise InvalidToken()
        return user

    def authenticate(self, request: HttpRequest, token: str):
        api_token = api_token_active(raw=token)
        if api_token is None:
            return None
        if api_token_touch(token=api_token):
            api_token_forget(digest=api_token.digest)
        # Downstream code (permissions, owners) reads request.user like for sessions.
        request.user = api_token.user
        return api_token.user


class SessionAuth(NinjaSessionAuth):
    """The browser's session, with its CSRF token on unsafe methods.

    Only without an Authorization header (TokenAuth judges those), and only for a logged-in
    user: an anonymous request is a 401, not a 403 about a CSRF token it has no use for.
    """

    def __call__(self, request: HttpRequest):
        if "HTTP_AUTHORIZATION" in request.META or not request.user.is_authenticated:
            return None
        return super().__call__(request)


# Token first: a request that carries an Authorization header is judged by it alone.
api_auth = [TokenAuth(), SessionAuth(csrf=True)]

# NUL and lone surrogates: PostgreSQL text holds neither (a DataError, or an encoding error).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class UnstorableText(HttpError):
    def __init__(self, character: str) -> None:
        if character == "\x00":
            message = "Invalid input: text may not contain NUL characters (\\u0000)."
        else:
            message = "Invalid input: text may not contain unpaired surrogates (\\ud800-\\udfff)."
        super().__init__(422, message)


class StrictJsonParser(Parser):
    """JSON bodies whose every string (keys too) the database can store, or a 422."""

    def parse_body(self, request: HttpRequest):
        data = super().parse_body(request)
        _check_strings(data)
        return data


def _check_strings(value) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found:
                raise UnstorableText(found.group())
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


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
    def authentication_error(request, exc: AuthenticationError):
        message = exc.message if isinstance(exc, InvalidToken) else AUTHENTICATION_REQUIRED
        response = api.create_response(request, {"message": message}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    @api.exception_handler(InvalidCursor)
    def invalid_cursor(request, exc: InvalidCursor):
        return api.create_response(request, {"message": str(exc)}, status=422)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, {"message": str(exc) or "Not found."}, status=404)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        # Ninja wraps whatever a body parser raises in a 400 "Cannot parse request body";
        # the parser's own HttpError (UnstorableText's 422) says more.
        if exc.status_code == 400 and isinstance(exc.__cause__, HttpError):
            exc = exc.__cause__
        response = api.create_response(request, {"message": exc.message}, status=exc.status_code)
        if isinstance(exc, TooManyRequests):
            response["Retry-After"] = str(exc.retry_after)
        return response


class TooManyRequests(HttpError):
    """429 with ``Retry-After``: a rate limit or a quota is reached; the message says which."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(429, message)
        self.retry_after = max(1, int(retry_after))


def ids_parsed(raw: str, *, noun: str, plural: str, most: int) -> list[UUID]:
    """The distinct UUIDs of a comma-separated ``ids`` parameter, in the order given; 422
    naming the first that is not a UUID (``noun``: "job"), or when there are more than
    ``most`` (``plural``: "jobs")."""
    ids: dict[UUID, None] = {}
    for part in filter(None, (part.strip() for part in raw.split(","))):
        try:
            ids[UUID(part)] = None
        except ValueError:
            raise HttpError(422, f"Invalid input: ids: {part[:80]!r} is not a {noun} id (a UUID).") from None
    if len(ids) > most:
        raise HttpError(422, f"Invalid input: ids: at most {most} {plural} per request (got {len(ids)}).")
    return list(ids)


def page_limit(requested: int | None) -> int:
    """The page size: the default when not asked, never above the configured maximum."""
    if requested is None:
        return settings.API_PAGE_SIZE
    if requested < 1:
        raise HttpError(422, f"Invalid input: limit must be at least 1 (got {requested}).")
    return min(requested, settings.API_MAX_PAGE_SIZE)
