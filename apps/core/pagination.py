"""Newest-first keyset pages over (created_at, id) for server-rendered lists.

Keyset instead of page numbers: no COUNT over the whole table, and pages do not shift
while new rows arrive. One query per page, on an index ending in (-created_at).
"""

import datetime

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from apps.core.api import MAX_ID, InvalidCursor, cursor_decode, cursor_encode

PageKey = tuple[datetime.datetime, int]


def page_key_decode(cursor: str | None) -> PageKey | None:
    """The (created_at, id) key in a pager link; None if absent, damaged or not one a page
    could have issued: a time without a zone or ahead of now (a row's created_at never is),
    an id that is not a positive bigint."""
    if not cursor:
        return None
    try:
        created_at, pk = cursor_decode(cursor, length=2)
        moment = datetime.datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            return None
        # In UTC, as the database compares it: near year 1 or 9999 that overflows.
        if moment.astimezone(datetime.UTC) > timezone.now() + datetime.timedelta(days=1):
            return None
    except (InvalidCursor, TypeError, ValueError, OverflowError):
        return None
    if type(pk) is not int or not 0 < pk <= MAX_ID:
        return None
    return moment, pk


def newest_first_page(
    rows: QuerySet, *, size: int, after: PageKey | None = None, before: PageKey | None = None
) -> tuple[list[Model], str | None, str | None]:
    """One page of a newest-first queryset: (rows, cursor of newer page, cursor of older page)."""
    if after is not None:
        created_at, pk = after
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk))
    elif before is not None:
        created_at, pk = before
        rows = rows.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=pk))
        rows = rows.order_by("created_at", "id")
    page = list(rows[: size + 1])
    more = len(page) > size
    page = page[:size]
    if before is not None:
        page.reverse()
        has_newer, has_older = more, True
    else:
        has_newer, has_older = after is not None, more
    if not page:
        return [], None, None

    def key(row: Model) -> str:
        return cursor_encode([row.created_at.isoformat(), row.pk])

    return page, key(page[0]) if has_newer else None, key(page[-1]) if has_older else None
