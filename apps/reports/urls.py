from django.urls import path

from apps.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("new/<slug:name>/", views.report_new, name="new"),
    path("runs/", views.run_list, name="runs"),
    path("runs/poll", views.runs_poll, name="poll"),
    path("runs/<uuid:run_id>/", views.run_detail, name="run"),
    path("runs/<uuid:run_id>/download", views.run_download, name="download"),
]
