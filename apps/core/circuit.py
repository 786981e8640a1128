"""A circuit breaker for a service the site can do without for a while (Redis).

Without one, a service that is down costs every request a connect timeout (or an error
page). With one, the first failure *opens* the circuit: for ``retry_after`` seconds this
process does not try the service at all, and callers take their fallback at once. After
the interval one caller (the probe) tries it again: a success *closes* the circuit, a
failure keeps it open for another interval. So a dead service costs one timeout per
process and interval, not one per request.

Opening and closing are each logged once (not per request) and sent as
``apps.core.signals.circuit_changed``, which monitoring records for the performance
overview ("Redis unreachable from … to …"). Each process has its own circuits: there is
nothing shared to consult while the service is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from apps.core.signals import circuit_changed

logger = logging.getLogger("apps.core.circuit")


def _announce(name: str, *, opened: bool, error: str) -> None:
    # send_robust: a listener that fails (the database is down too) is logged by Django.
    circuit_changed.send_robust(Circuit, name=name, opened=opened, error=error)


class Circuit:
    """``if circuit.allows(): try: call(); circuit.succeeded() except …: circuit.failed(exc)``.

    ``retry_after`` is read at each failure, so a setting changed by a test applies.
    """

    def __init__(self, name: str, *, retry_after: Callable[[], float]) -> None:
        self.name = name
        self._retry_after = retry_after
        self._lock = threading.Lock()
        # time.monotonic() before which nobody tries the service (0: closed).
        self._closed_until_probe = 0.0
        # time.time() of the opening while open, None while closed.
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def due(self) -> bool:
        """Whether a call would try the service now (closed, or open and due a probe)."""
        return time.monotonic() >= self._closed_until_probe

    def allows(self) -> bool:
        """Whether to try the service now. While open, one caller per interval is let
        through as the probe; the next interval starts at once, so a probe that never
        reports back leaves the circuit no worse than a failed one."""
        if self._opened_at is None:
            return True
        with self._lock:
            if self._opened_at is None:
                return True
            now = time.monotonic()
            if now < self._closed_until_probe:
                return False
            self._closed_until_probe = now + self._retry_after()
            return True

    def succeeded(self) -> None:
        if self._opened_at is None:
            return
        with self._lock:
            opened_at, self._opened_at = self._opened_at, None
            self._closed_until_probe = 0.0
        if opened_at is None:
            return
        logger.warning("circuit %s closed: reachable again after %.1fs", self.name, time.time() - opened_at)
        _announce(self.name, opened=False, error="")

    def failed(self, exc: BaseException) -> None:
        retry_after = self._retry_after()
        with self._lock:
            self._closed_until_probe = time.monotonic() + retry_after
            opening = self._opened_at is None
            if opening:
                self._opened_at = time.time()
        if not opening:
            logger.debug("circuit %s stays open: %s", self.name, exc)
            return
        logger.warning("circuit %s open: %s; not tried for %gs", self.name, exc, retry_after)
        _announce(self.name, opened=True, error=str(exc)[:500])

    def reset(self) -> None:
        """Closed, without telling anyone (tests; a process that changed its settings)."""
        with self._lock:
            self._opened_at = None
            self._closed_until_probe = 0.0
