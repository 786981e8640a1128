"""Configuration checks: the metrics middleware must be installed where DESIGN.md puts it."""

from django.conf import settings
from django.core.checks import Warning, register

METRICS = "apps.monitoring.middleware.RequestMetricsMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"


@register()
def middleware_order(app_configs, **kwargs):
    middleware = list(settings.MIDDLEWARE)
    if METRICS not in middleware:
        return [
            Warning(
                "Request metrics are off: RequestMetricsMiddleware is not in MIDDLEWARE.",
                hint=f"Add {METRICS!r} right after {SESSIONS!r}.",
                id="monitoring.W001",
            )
        ]
    if "silk.middleware.SilkyMiddleware" in middleware and middleware.index(
        "silk.middleware.SilkyMiddleware"
    ) < middleware.index(METRICS):
        return [
            Warning(
                "Silk runs before the request metrics middleware, so its cost is not measured.",
                hint="Put SilkyMiddleware after RequestMetricsMiddleware.",
                id="monitoring.W002",
            )
        ]
    return []
