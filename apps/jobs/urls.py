from django.urls import path

from apps.jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("poll", views.jobs_poll, name="poll"),
    path("submit", views.job_submit, name="submit"),
    path("<uuid:job_id>/", views.job_detail, name="detail"),
    path("<uuid:job_id>/log", views.job_log, name="log"),
    path("<uuid:job_id>/cancel", views.job_cancel, name="cancel"),
    path("<uuid:job_id>/retry", views.job_retry, name="retry"),
]
