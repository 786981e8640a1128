from django.urls import path

from apps.monitoring.views import beacon, pages

app_name = "monitoring"
urlpatterns = [
    path("", pages.overview, name="overview"),
    path("endpoints/", pages.endpoints, name="endpoints"),
    path("endpoint/", pages.endpoint_detail, name="endpoint"),
    path("endpoint/silk", pages.endpoint_silk, name="endpoint_silk"),
    path("queries/", pages.slow_queries, name="queries"),
    path("queries/<int:query_id>/", pages.slow_query_detail, name="query"),
    path("database/", pages.database_health, name="database"),
    path("queues/", pages.queue_health, name="queues"),
    path("browser/", pages.browser, name="browser"),
    path("alerts/", pages.alerts, name="alerts"),
    path("beacon", beacon.beacon, name="beacon"),
]
