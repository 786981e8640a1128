"""Getting what the recorder holds into the database, as the background flush and the
roll-up job would (Redis when REDIS_URL is set, the database otherwise)."""

from django.conf import settings

from apps.monitoring.recorder import recorder
from apps.monitoring.services.metrics import metrics_redis, metrics_rollup


def clear_redis() -> None:
    client = metrics_redis()
    if client is not None:
        for key in client.scan_iter(match=settings.MONITORING_REDIS_PREFIX + "*"):
            client.delete(key)


def flush_and_roll_up() -> None:
    recorder.flush()
    metrics_rollup()
