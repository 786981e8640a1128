"""What the commerce commands show: a progress bar per file on stderr, failures in one line."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from django.core.management.base import CommandError
from django.db import DatabaseError, ProgrammingError

from apps.commerce.services import DatasetError, ProgressFactory, first_line
from apps.core.progress import ProgressBar


def progress_bars(stream: TextIO, *, unit: str = "rows") -> ProgressFactory:
    """A ``ProgressBar`` on ``stream`` for each file a service works through; each one prints
    its last line when that file is done (or failed)."""
    return lambda label, total: ProgressBar(stream, label, total, unit=unit)


@contextmanager
def failures_as_command_errors(*, migrate_hint: bool = True) -> Iterator[None]:
    """A refused load or a database error ends the command with one line (no traceback).

    ``migrate_hint``: a ``ProgrammingError`` (a missing table, most often) asks whether
    ``manage.py migrate`` has run.
    """
    try:
        yield
    except DatasetError as exc:
        raise CommandError(str(exc)) from None
    except ProgrammingError as exc:
        hint = " (has `manage.py migrate` run?)" if migrate_hint else ""
        raise CommandError(f"Database error: {first_line(exc)}{hint}") from None
    except DatabaseError as exc:
        raise CommandError(f"Database error: {first_line(exc)}") from None
