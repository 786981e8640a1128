"""Silk switches: arm one endpoint for its next N requests; prune Silk's tables."""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from silk.models import Request

from apps.monitoring import silk_sampling

MAX_ARMED_REQUESTS = 1000


def silk_arm(*, endpoint: str, requests: int) -> None:
    """Record the next ``requests`` requests of ``endpoint`` ("GET /orders/") with Silk."""
    if not 1 <= requests <= MAX_ARMED_REQUESTS:
        raise ValueError(f"Record between 1 and {MAX_ARMED_REQUESTS} requests (got {requests}).")
    armed = cache.get(silk_sampling.ARMED_KEY) or {}
    armed[endpoint] = time.time() + silk_sampling.ARMED_TTL_SECONDS
    cache.set(silk_sampling.left_key(endpoint), requests, silk_sampling.ARMED_TTL_SECONDS)
    cache.set(silk_sampling.ARMED_KEY, armed, silk_sampling.ARMED_TTL_SECONDS)
    # This process sees it at once; the others at their next metrics flush.
    silk_sampling.silk_refresh()


def silk_disarm(*, endpoint: str) -> None:
    armed = cache.get(silk_sampling.ARMED_KEY) or {}
    armed.pop(endpoint, None)
    cache.set(silk_sampling.ARMED_KEY, armed, silk_sampling.ARMED_TTL_SECONDS)
    cache.delete(silk_sampling.left_key(endpoint))
    silk_sampling.silk_refresh()


def silk_requests_left(*, endpoint: str) -> int:
    if endpoint not in silk_sampling.armed_endpoints():
        return 0
    return max(int(cache.get(silk_sampling.left_key(endpoint)) or 0), 0)


def silk_prune(*, now: datetime | None = None) -> int:
    """Delete Silk's recorded requests (with their queries and profiles) past retention."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.MONITORING_SILK_RETENTION_HOURS)
    _, deleted = Request.objects.filter(start_time__lt=cutoff).delete()
    return deleted.get(Request._meta.label, 0)
