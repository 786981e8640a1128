"""Recording Redis outages (a circuit of apps.core.circuit opening and closing) for the
performance overview.

Written to the database, never through Redis. Inside a transaction the row is written by
a short-lived thread on a connection of its own: the event is true whether or not the
caller's transaction commits.
"""

import logging
import os
import socket
import threading

from django.db import connection, connections
from django.utils import timezone

from apps.monitoring.models import RedisOutage

logger = logging.getLogger("apps.monitoring")

_PROCESS = f"{socket.gethostname()}:{{pid}}"


def redis_outage_record(*, component: str, opened: bool, error: str = "") -> None:
    """A circuit of this process opened (a new row) or closed (the open rows of its component end).

    A closing ends every process's open row of the component: Redis answers again, and a
    process that died while its circuit was open would otherwise leave its row open.
    """
    if not connection.in_atomic_block:
        _write(component, opened, error)
        return
    thread = threading.Thread(target=_write_alone, args=(component, opened, error), name="redis-outage")
    thread.start()
    thread.join(timeout=10)


def _write(component: str, opened: bool, error: str) -> None:
    now = timezone.now()
    if opened:
        RedisOutage.objects.create(
            component=component, process=_PROCESS.format(pid=os.getpid()), started_at=now, error=error[:500]
        )
    else:
        RedisOutage.objects.filter(component=component, ended_at__isnull=True).update(ended_at=now)


def _write_alone(component: str, opened: bool, error: str) -> None:
    try:
        _write(component, opened, error)
    except Exception as exc:
        logger.warning("monitoring: Redis outage of %s not recorded: %s", component, exc)
    finally:
        connections.close_all()
