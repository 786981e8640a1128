from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Imported here, as Django's own apps do: the receivers need the app registry.
        from apps.notifications import receivers

        receivers.connect()
