from django.http import HttpRequest, HttpResponse
from health_check.views import HealthCheckView

from apps.core.health import readiness_checks


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No I/O, so a slow database never kills it."""
    return HttpResponse("ok\n", content_type="text/plain")


class ReadinessView(HealthCheckView):
    """Readiness: database, cache, Redis and migrations; 503 tells the balancer to wait."""

    def get_checks(self):
        self.checks = readiness_checks()
        return super().get_checks()

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response
