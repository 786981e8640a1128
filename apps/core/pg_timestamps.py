"""Reading timestamps that Python cannot hold, on PostgreSQL.

PostgreSQL stores timestamptz values from 4713 BC to 294276 AD and ``infinity``; Python's
datetime ends at year 9999, and psycopg raises DataError for anything outside. One such
value in a row (a job scheduled for 9999-12-31 -14:00 is year 10000 in UTC) made every
list showing that row fail. Services bound what they write and CHECK constraints guard
columns (jobs.run_at); this loader is the last line, for every table: a value past either
end is read as READABLE_MIN or READABLE_MAX (logged), so that a page shows "9999-12-30"
instead of failing.

Installed on every new connection (``connection_created``), replacing Django's own
timestamptz loader with a subclass that keeps its time zone handling.
"""

import datetime
import logging

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

logger = logging.getLogger("apps.core")

# What Python's datetime can hold, less a day so that showing it in any local time zone
# cannot overflow either. PostgreSQL stores years up to 294276, but psycopg cannot read a
# value past datetime's range back.
READABLE_MIN = datetime.datetime.min.replace(tzinfo=datetime.UTC) + datetime.timedelta(days=1)
READABLE_MAX = datetime.datetime.max.replace(tzinfo=datetime.UTC) - datetime.timedelta(days=1)


def _clamped(text: str, timezone: datetime.tzinfo | None) -> datetime.datetime | None:
    """The nearest readable time for a value psycopg could not read because it is out of
    range; None for anything else (a malformed value stays an error)."""
    if text == "-infinity" or text.endswith(" BC"):
        extreme = READABLE_MIN
    elif text == "infinity" or len(text.split("-", 1)[0]) > 4:
        extreme = READABLE_MAX
    else:
        return None
    return extreme.astimezone(timezone) if timezone is not None else extreme.replace(tzinfo=None)


def loader_install(*, sender: type, connection: BaseDatabaseWrapper, **kwargs) -> None:
    """connection_created receiver: put the clamping loader on a new PostgreSQL connection."""
    if connection.vendor != "postgresql":
        return

    class ClampingTzLoader(BaseTzLoader):
        # Django compares this with the connection's time zone before each cursor and
        # installs its own loader when they differ: keep them equal.
        timezone = connection.timezone

        def load(self, data):
            try:
                return super().load(data)
            except psycopg.DataError:
                text = bytes(data).decode("ascii", "replace")
                value = _clamped(text, self.timezone)
                if value is None:
                    raise
                logger.warning("timestamp %r is out of Python's range; read as %s", text, value.isoformat())
                return value

    connection.connection.adapters.register_loader("timestamptz", ClampingTzLoader)
