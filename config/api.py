"""The JSON API: one NinjaAPI at /api/, one Router per app."""

from ninja import NinjaAPI

from apps.core.api import StrictJsonParser, api_auth, install_error_handlers

api = NinjaAPI(
    title="Tempo API",
    version="1",
    description="Authenticate with a session (and its CSRF token) or `Authorization: Bearer <token>` "
    "(create one with `manage.py create_api_token USERNAME`).",
    auth=api_auth,
    parser=StrictJsonParser(),
    urls_namespace="api",
)
install_error_handlers(api)

api.add_router("/commerce/", "apps.commerce.api.router")
api.add_router("/notifications", "apps.notifications.api.router")
api.add_router("/reports", "apps.reports.api.router")
api.add_router("/monitoring", "apps.monitoring.api.router")
api.add_router("/jobs", "apps.jobs.api.router")
