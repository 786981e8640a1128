"""Redis outages for the performance overview: the processes' rows merged into outages."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from apps.monitoring.models import RedisOutage

# Rows read at most (the newest): a few processes times a few components per outage.
MAX_ROWS = 500


@dataclass
class Outage:
    """Redis unreachable from ``started_at`` to ``ended_at`` (None: still) for ``components``."""

    started_at: datetime
    ended_at: datetime | None
    components: set[str] = field(default_factory=set)

    @property
    def names(self) -> str:
        return ", ".join(sorted(self.components))

    @property
    def seconds(self) -> float:
        return ((self.ended_at or timezone.now()) - self.started_at).total_seconds()


def redis_outages(*, window: timedelta, now: datetime | None = None) -> list[Outage]:
    """Outages that overlap the last ``window``, newest first: rows whose times overlap
    (any process, any component) are one outage. One query."""
    now = now or timezone.now()
    since = now - window
    rows = list(
        RedisOutage.objects.filter(started_at__lte=now)
        .exclude(ended_at__lt=since)
        .order_by("-started_at")
        .values_list("component", "started_at", "ended_at")[:MAX_ROWS]
    )
    outages: list[Outage] = []
    for component, started_at, ended_at in sorted(rows, key=lambda row: row[1]):
        last = outages[-1] if outages else None
        if last is not None and (last.ended_at is None or started_at <= last.ended_at):
            if last.ended_at is not None:
                last.ended_at = None if ended_at is None else max(last.ended_at, ended_at)
            last.components.add(component)
        else:
            outages.append(Outage(started_at, ended_at, {component}))
    return outages[::-1]
