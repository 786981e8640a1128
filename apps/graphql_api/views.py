"""/graphql: strawberry's Django view behind the JSON API's authentication.

1. Credentials as for /api/: ``Authorization: Bearer <token>`` judged alone when present
   (apps.core.api.TokenAuth: a wrong token is a 401, too many are a 429), else the session
   of a logged-in user. Nobody → 401 before the document is even parsed.
2. CSRF as for /api/: a session's POST must carry the CSRF token (403 without), a bearer
   token's does not. Django's CSRF middleware cannot tell the two apart, so the view is
   exempt from it and runs the same check itself (SessionAuth(csrf=True)) for sessions.
3. A JSON body with text PostgreSQL cannot store (NUL, lone surrogates) is a 422, as for
   /api/ (StrictJsonParser): job parameters are stored as they come.
4. GraphiQL (GET with Accept: text/html) for staff, or for anyone while DEBUG is on; 404
   otherwise. It loads its scripts from unpkg.com, allowed by CSP on that page only.
"""

from csp.constants import NONCE
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from ninja.errors import AuthenticationError, HttpError
from strawberry.django.views import GraphQLView

from apps.core.api import (
    AUTHENTICATION_REQUIRED,
    InvalidToken,
    SessionAuth,
    StrictJsonParser,
    TokenAuth,
    TooManyRequests,
)
from apps.graphql_api.limits import introspection_allowed
from apps.graphql_api.schema import schema

GRAPHIQL_ORIGIN = "https://unpkg.com"
# GraphiQL's page: its scripts and styles from unpkg.com, its inline ones with our nonce.
GRAPHIQL_POLICY = {
    "script-src": ["'self'", NONCE, GRAPHIQL_ORIGIN],
    "style-src": ["'self'", NONCE, GRAPHIQL_ORIGIN],
}

_token_auth = TokenAuth()
_session_auth = SessionAuth(csrf=True)


def _errors(status: int, message: str, code: str) -> JsonResponse:
    return JsonResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status=status)


def _refused(request: HttpRequest) -> HttpResponse | None:
    """Steps 1 to 3 of the module's docstring: the response that refuses ``request``, if any."""
    try:
        user = _token_auth(request) or _session_auth(request)
    except AuthenticationError as exc:
        message = exc.message if isinstance(exc, InvalidToken) else AUTHENTICATION_REQUIRED
        response = _errors(401, message, "UNAUTHENTICATED")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    except TooManyRequests as exc:
        response = _errors(429, exc.message, "RATE_LIMITED")
        response["Retry-After"] = str(exc.retry_after)
        return response
    except HttpError as exc:
        code = "CSRF_FAILED" if exc.status_code == 403 else "BAD_REQUEST"
        message = "CSRF check failed: send the csrftoken cookie's value in X-CSRFToken."
        return _errors(exc.status_code, message if exc.status_code == 403 else exc.message, code)
    if not user:
        response = _errors(401, AUTHENTICATION_REQUIRED, "UNAUTHENTICATED")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    # Every content type strawberry reads as JSON (it matches by substring).
    if request.method == "POST" and "application/json" in (request.content_type or ""):
        try:
            StrictJsonParser().parse_body(request)
        except HttpError as exc:
            return _errors(exc.status_code, exc.message, "BAD_USER_INPUT")
        except ValueError:
            # Not JSON: strawberry answers it (400 "Unable to parse request body as JSON").
            pass
    return None


@method_decorator(csrf_exempt, name="dispatch")
class TempoGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        refused = _refused(request)
        if refused is not None:
            return refused
        return super().dispatch(request, *args, **kwargs)

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        if not introspection_allowed(request.user):
            return _errors(404, "GraphiQL is for staff; POST your queries to /graphql.", "NOT_FOUND")
        # GraphiQL sends the csrftoken cookie back as X-CSRFToken: make sure the page sets it.
        get_token(request)
        nonce = request.csp_nonce
        page = self.graphql_ide_html.replace("<script>", f'<script nonce="{nonce}">').replace(
            "<style>", f'<style nonce="{nonce}">'
        )
        response = HttpResponse(page)
        response._csp_replace = GRAPHIQL_POLICY
        return response


# Queries and mutations are POSTed (GET serves only GraphiQL): one path for CSRF and for the
# body checks, and no query text in access logs.
graphql_view = TempoGraphQLView.as_view(schema=schema, graphql_ide="graphiql", allow_queries_via_get=False)
