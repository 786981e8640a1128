from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Imported once the models are ready, as Django's contrib apps register theirs.
        from apps.jobs import checks  # noqa: F401  (registers system checks)

        # Every app's tasks.py registers its job kinds with @job.
        autodiscover_modules("tasks")
