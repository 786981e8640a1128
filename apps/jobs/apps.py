from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.utils.module_loading import autodiscover_modules

        from apps.jobs import checks  # noqa: F401  (registers system checks)
        from apps.jobs.pg_timestamps import loader_install

        connection_created.connect(loader_install, dispatch_uid="jobs.pg_timestamps")

        # Every app's tasks.py registers its job kinds with @job.
        autodiscover_modules("tasks")
