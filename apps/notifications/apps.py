from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from apps.jobs.models import Job
        from apps.jobs.signals import job_finished
        from apps.notifications import signals

        job_finished.connect(
            signals.on_job_finished, sender=Job, dispatch_uid="notifications.on_job_finished"
        )
