from django.urls import path

from apps.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("bell", views.bell, name="bell"),
    path("<int:notification_id>/", views.notification_open, name="open"),
    path("<int:notification_id>/read", views.notification_read, name="read"),
    path("read-all", views.notifications_read_all, name="read_all"),
    path("preferences", views.preferences, name="preferences"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/signing-secret", views.signing_secret_rotate, name="signing_secret_rotate"),
    path("webhooks/<uuid:endpoint_id>/", views.endpoint_detail, name="endpoint"),
    path("webhooks/<uuid:endpoint_id>/toggle", views.endpoint_toggle, name="endpoint_toggle"),
    path("webhooks/<uuid:endpoint_id>/delete", views.endpoint_delete, name="endpoint_delete"),
    path("webhooks/<uuid:endpoint_id>/test", views.endpoint_test, name="endpoint_test"),
    path("deliveries/<uuid:delivery_id>/redeliver", views.delivery_redeliver, name="redeliver"),
]
