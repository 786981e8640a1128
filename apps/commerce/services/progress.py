"""How the commerce services report progress: to core's ``Progress``, one display per file.

A service that works through files or tables (``dataset_load`` loads eight) asks its
caller's ``ProgressFactory`` for one display each, ``with progress_factory(label, total)
as progress:``, and reports to it with ``progress.progress(done, total, message)``.
Leaving the block ends that display (a command's bar prints its last line), also when
the work failed. A job's context is a ``Progress`` already: its factory hands it out for
every file (``nullcontext(ctx)``).
"""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from apps.core.progress import Progress

# (label, total units or None) -> a context that holds the display of one file or table.
ProgressFactory = Callable[[str, int | None], AbstractContextManager[Progress]]


class _Unshown:
    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Nobody is watching."""


UNSHOWN: Progress = _Unshown()


def progress_unshown(label: str, total: int | None) -> AbstractContextManager[Progress]:
    """The factory of a caller that shows no progress."""
    return nullcontext(UNSHOWN)


class Tally:
    """Counts the units done of one file and tells its ``Progress`` at each step."""

    def __init__(self, progress: Progress, total: int | None, message: str) -> None:
        self.progress = progress
        self.total = total
        self.message = message
        self.done = 0

    def add(self, count: int) -> None:
        self.done += count
        self.progress.progress(self.done, self.total, self.message)

    def stage(self, message: str) -> None:
        """The next step begins (checking, writing): said with the count so far."""
        self.message = message
        self.progress.progress(self.done, self.total, message)
