"""Keyset pages for every list, in pages and in the JSON API.

Keyset instead of page numbers: no COUNT over the whole table, and pages do not shift
while new rows arrive. One query per page, on an index that matches the sort key.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from apps.core.cursor import InvalidCursor, cursor_decode, cursor_encode, cursor_value, id_parse, moment_parse

# A row's values of the keyset's fields, in order: (created_at, id), (order_date, id), (id,).
Key = tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class Keyset:
    """The sort key of a list: its fields (the most significant first, unique together)
    and how each is read back from a cursor."""

    fields: tuple[str, ...]
    parsers: tuple[Callable[[Any], Any], ...]
    descending: bool = True

    def ordering(self, *, backwards: bool = False) -> list[str]:
        prefix = "-" if self.descending != backwards else ""
        return [prefix + field for field in self.fields]

    def key_of(self, row: Any) -> Key:
        """The key of a model instance or of a ``values()`` dict."""
        if isinstance(row, dict):
            return tuple(row[field] for field in self.fields)
        return tuple(getattr(row, field) for field in self.fields)

    def encode(self, key: Key) -> str:
        return cursor_encode([cursor_value(value) for value in key])

    def decode(self, cursor: str) -> Key:
        """The key a cursor holds; InvalidCursor for anything a page could not have issued."""
        values = cursor_decode(cursor, length=len(self.fields))
        return tuple(parse(value) for parse, value in zip(self.parsers, values, strict=True))

    def key_or_none(self, cursor: str | None) -> Key | None:
        """The key in a pager link; None when there is none or it is damaged (the first page)."""
        if not cursor:
            return None
        try:
            return self.decode(cursor)
        except InvalidCursor:
            return None

    def beyond(self, key: Key, *, backwards: bool = False) -> Q:
        """Rows strictly after ``key`` in this order (strictly before it, ``backwards``).

        For (a, b): ``a < x OR (a = x AND b < y)``, and the redundant ``a <= x`` that lets
        PostgreSQL start the index scan at the key; with the OR alone it scans from the
        first row (measured on orders: 350 ms vs 0.3 ms for a page deep into 1.5M rows).
        """
        lookup = "lt" if self.descending != backwards else "gt"
        condition = Q()
        equal: dict[str, Any] = {}
        for field, value in zip(self.fields, key, strict=True):
            condition |= Q(**equal, **{f"{field}__{lookup}": value})
            equal[field] = value
        if len(self.fields) > 1:
            condition &= Q(**{f"{self.fields[0]}__{lookup}e": key[0]})
        return condition


# Newest first by (created_at, id): jobs, report runs.
NEWEST_FIRST = Keyset(fields=("created_at", "id"), parsers=(moment_parse, id_parse))


@dataclasses.dataclass(frozen=True)
class KeysetPage:
    """One page of rows with the keys to continue either way: each is set only when a page
    exists in that direction."""

    rows: list
    keyset: Keyset
    previous_key: Key | None
    next_key: Key | None

    @property
    def previous_cursor(self) -> str | None:
        return None if self.previous_key is None else self.keyset.encode(self.previous_key)

    @property
    def next_cursor(self) -> str | None:
        return None if self.next_key is None else self.keyset.encode(self.next_key)


def keyset_page(
    rows: QuerySet, *, keyset: Keyset, size: int, after: Key | None = None, before: Key | None = None
) -> KeysetPage:
    """One page of ``rows`` in the keyset's order: one query.

    1. Seek past the cursor: rows strictly after ``after`` (the next page) or strictly
       before ``before`` (the previous page) in the keyset's order.
    2. Fetch ``size + 1`` rows: the extra row only says whether another page exists.
    3. Going backwards reads in the reverse order from the cursor, then reverses, so
       that both directions use the same index.
    """
    if after is not None and before is not None:
        raise ValueError("Pass at most one of after and before.")
    backwards = before is not None
    if after is not None:
        rows = rows.filter(keyset.beyond(after))
    elif backwards:
        rows = rows.filter(keyset.beyond(before, backwards=True))
    page = list(rows.order_by(*keyset.ordering(backwards=backwards))[: size + 1])
    more = len(page) > size
    page = page[:size]
    if backwards:
        page.reverse()
        # The cursor came from a row of the page that follows, so that page exists.
        has_previous, has_next = more, True
    else:
        has_previous, has_next = after is not None, more
    if not page:
        return KeysetPage(rows=[], keyset=keyset, previous_key=None, next_key=None)
    return KeysetPage(
        rows=page,
        keyset=keyset,
        previous_key=keyset.key_of(page[0]) if has_previous else None,
        next_key=keyset.key_of(page[-1]) if has_next else None,
    )


def next_page_url(base: str, params: Mapping[str, Any], cursor: str | None) -> str | None:
    """The next page's full URL: ``base`` with the same filters and the page's cursor."""
    if cursor is None:
        return None
    query = {name: value for name, value in params.items() if name != "cursor"}
    return f"{base}?{urlencode({**query, 'cursor': cursor})}"
