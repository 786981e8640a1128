from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # Imported here, as Django's own apps do: these modules need the app registry.
        from apps.monitoring import checks, receivers, silk_sampling  # noqa: F401  (checks register themselves)
        from apps.monitoring.recorder import recorder
        from apps.monitoring.services.metrics import metrics_flush_write

        receivers.connect()
        # The recorder hands each flush to the store; it never imports it.
        recorder.write_with(metrics_flush_write)
        # Which endpoints Silk records is refreshed from the cache in the background.
        recorder.every_flush(silk_sampling.silk_refresh)
