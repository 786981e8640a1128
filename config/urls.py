from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from apps.core.views import ReadinessView, healthz
from apps.monitoring.views.prometheus import metrics
from config.api import api

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", api.urls),
    path("jobs/", include("apps.jobs.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("reports/", include("apps.reports.urls")),
    path("monitoring/", include("apps.monitoring.urls")),
    path("metrics", metrics, name="metrics"),
    path("silk/", include("silk.urls", namespace="silk")),
    path("", include("apps.commerce.urls")),
]

if settings.DEBUG_TOOLBAR:
    urlpatterns.append(path("__debug__/", include("debug_toolbar.urls")))
