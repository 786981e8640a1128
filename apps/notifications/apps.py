from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Importing the module connects its receivers (the jobs app's job_finished).
        from apps.notifications import receivers  # noqa: F401
