from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.urls import URLPattern, include, path
from silk import urls as silk_urls

from apps.core.views import (
    ReadinessView,
    ThrottledPasswordResetView,
    favicon,
    healthz,
    missing_is_404,
    offline,
    service_worker,
    web_manifest,
)
from apps.graphql_api.views import graphql_view
from apps.monitoring.views.prometheus import metrics
from config.api import api

# Silk's detail views let an unknown id escape as DoesNotExist (a 500): each answers 404.
# Its profile downloads also open a file that requests recorded without the profiler do not
# have (the file field raises ValueError): no profile is a 404 too.
SILK_PROFILE_FILES = {"request_profile_download", "request_profile_dot"}
silk_patterns = [
    URLPattern(
        pattern.pattern,
        missing_is_404(
            pattern.callback,
            missing=(ObjectDoesNotExist, ValueError)
            if pattern.name in SILK_PROFILE_FILES
            else (ObjectDoesNotExist,),
        ),
        pattern.default_args,
        pattern.name,
    )
    for pattern in silk_urls.urlpatterns
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    # At the root: a service worker controls only the paths below its own.
    path("sw.js", service_worker, name="service_worker"),
    path("manifest.webmanifest", web_manifest, name="web_manifest"),
    path("favicon.ico", favicon, name="favicon"),
    path("offline/", offline, name="offline"),
    path("admin/", admin.site.urls),
    # Before Django's own: the same view, throttled per client address and per e-mail.
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", api.urls),
    path("graphql", graphql_view, name="graphql"),
    path("jobs/", include("apps.jobs.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("reports/", include("apps.reports.urls")),
    path("monitoring/", include("apps.monitoring.urls")),
    path("metrics", metrics, name="metrics"),
    path("silk/", include((silk_patterns, silk_urls.app_name), namespace="silk")),
    path("", include("apps.commerce.urls")),
]

if settings.DEBUG_TOOLBAR:
    urlpatterns.append(path("__debug__/", include("debug_toolbar.urls")))
