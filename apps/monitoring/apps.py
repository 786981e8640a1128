from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from apps.monitoring import checks, receivers, silk_sampling  # noqa: F401  (checks register themselves)
        from apps.monitoring.recorder import recorder

        receivers.connect()
        silk_sampling.silk_masking_connect()
        # Which endpoints Silk records is refreshed from the cache in the background.
        recorder.every_flush(silk_sampling.silk_refresh)
