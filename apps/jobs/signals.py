"""Events the jobs app publishes; apps above it listen (DESIGN.md: never import upward).

job_started(sender=Job, job=Job)
job_finished(sender=Job, job=Job, status=<final status>[, batch=EndedTogether])
    — succeeded, dead or cancelled. ``batch`` is given when the ends of several jobs were
    recorded in one write (a worker's successes): a receiver may gather its work for the
    whole batch with ``batch.gather()`` instead of doing it once per job.
"""

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

job_started = Signal()
job_finished = Signal()


class EndedTogether:
    """Jobs whose ends were recorded together, for receivers that work per batch.

    ``gather(key, item, handle)`` collects ``item`` under ``key``; once job_finished has
    been sent for every job of the batch, ``handle`` gets each key's items, once.
    """

    def __init__(self) -> None:
        self._gathered: dict[str, tuple[Callable[[list[Any]], None], list[Any]]] = {}

    def gather(self, key: str, item: Any, handle: Callable[[list[Any]], None]) -> None:
        self._gathered.setdefault(key, (handle, []))[1].append(item)

    def run(self) -> None:
        """Called by the sender after the last job_finished of the batch."""
        gathered, self._gathered = self._gathered, {}
        for handle, items in gathered.values():
            handle(items)
