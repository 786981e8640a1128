from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from apps.core import checks, receivers  # noqa: F401  (checks register themselves)
        from apps.core.pg_timestamps import loader_install

        # Timestamps Python cannot hold are read clamped on every PostgreSQL connection.
        connection_created.connect(loader_install, dispatch_uid="core.pg_timestamps")
        receivers.connect()
