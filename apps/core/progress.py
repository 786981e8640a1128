"""How long work reports how far it is: one protocol, and the text bar commands show.

A job's context, a command's bar and anything a service is handed to report progress
to all take ``progress(done, total, message)``.
"""

import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """``done`` of ``total`` units (None: not known yet); ``message`` says what is being done."""


class ProgressBar:
    """``label [#####.....]  42% 1,234/2,938 rows 5,120/s``.

    On a terminal the bar redraws in place at most 10 times a second; elsewhere (logs,
    CI) it prints one line at the end so that output stays readable.
    """

    width = 30

    def __init__(self, stream: TextIO, label: str, total: int | None, unit: str = "rows"):
        self.stream = stream
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.interactive and now - self._drawn_at >= 0.1:
            self._drawn_at = now
            self.stream.write("\r" + self.render())
            self.stream.flush()

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        if total is not None:
            self.total = total
        self.update(done)

    def advance(self, count: int) -> None:
        self.update(self.done + count)

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The last line is printed also when the work failed: it shows how far it got.
        self.finish()

    def finish(self) -> None:
        prefix = "\r" if self.interactive else ""
        self.stream.write(prefix + self.render() + "\n")
        self.stream.flush()

    def render(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = f"{self.done / elapsed:,.0f}/s"
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(self.width * fraction)
            bar = "#" * filled + "." * (self.width - filled)
            return f"{self.label:<12} [{bar}] {fraction:4.0%} {self.done:,}/{self.total:,} {self.unit} {rate}"
        return f"{self.label:<12} {self.done:,} {self.unit} {rate}"
