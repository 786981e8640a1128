"""Keyset cursors: the sort key of the row a page ended on, as opaque URL-safe text.

A leaf module (nothing of the ORM or of ninja): pages, the JSON API and selectors all read cursors
with it. A cursor is refused with ``InvalidCursor`` unless a page could have issued it;
pages then show the first page, the API answers 422 (apps.core.api).
"""

import base64
import binascii
import datetime
import json
from typing import Any

from django.utils import timezone

# Ids are bigints: a larger number names no row and is refused before any query.
MAX_ID = 2**63 - 1

# Rows are never created ahead of now; a day's margin covers clocks that disagree a little.
FUTURE_MARGIN = datetime.timedelta(days=1)


class InvalidCursor(ValueError):
    """A cursor no page could have issued: damaged, edited, or another list's."""

    def __init__(self) -> None:
        super().__init__("Invalid input: cursor is not one this API issued.")


def cursor_encode(values: list) -> str:
    """An opaque keyset cursor: the sort key of the last row a page returned."""
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def cursor_decode(cursor: str, *, length: int) -> list:
    """The ``length`` values a cursor holds; InvalidCursor if it is not such a cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if not isinstance(values, list) or len(values) != length:
        raise InvalidCursor()
    return values


def cursor_value(value: Any) -> Any:
    """A sort key's value as a cursor holds it: dates and times in ISO 8601."""
    return value.isoformat() if isinstance(value, datetime.date) else value


def moment_parse(value: Any) -> datetime.datetime:
    """A row's creation time in a cursor: ISO 8601 with a zone, not ahead of now."""
    try:
        moment = datetime.datetime.fromisoformat(value)
        # In UTC, as the database compares it: near year 1 or 9999 that overflows.
        utc = moment.astimezone(datetime.UTC) if moment.tzinfo is not None else None
    except (TypeError, ValueError, OverflowError):
        raise InvalidCursor() from None
    if utc is None or utc > timezone.now() + FUTURE_MARGIN:
        raise InvalidCursor()
    return moment


def day_parse(value: Any) -> datetime.date:
    """A calendar date in a cursor (YYYY-MM-DD)."""
    if not isinstance(value, str):
        raise InvalidCursor()
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise InvalidCursor() from None


def id_parse(value: Any) -> int:
    """A row id in a cursor: exactly a positive bigint (JSON's 1.5, "1" or true would
    otherwise be read as another row's id)."""
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise InvalidCursor()
    return value
