"""The one keyset pager behind every list, in both directions and either sort order.

The lists (jobs, report runs, orders, notifications) test it through their pages and API;
here it is on its own, over users that share a join time, so that the id breaks the ties.
"""

import datetime

import pytest
from django.contrib.auth import get_user_model

from apps.core.cursor import InvalidCursor, cursor_encode, id_parse, moment_parse
from apps.core.pagination import NEWEST_FIRST, Keyset, keyset_page, next_page_url

pytestmark = pytest.mark.django_db

OLDEST_FIRST = Keyset(fields=("date_joined", "id"), parsers=(moment_parse, id_parse), descending=False)


@pytest.fixture
def users():
    """Seven users, joined at three moments (ties broken by id), oldest first."""
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    model = get_user_model()
    made = []
    for number, minutes in enumerate((0, 0, 0, 5, 5, 9, 9)):
        user = model.objects.create_user(f"user{number}")
        user.date_joined = start + datetime.timedelta(minutes=minutes)
        user.save(update_fields=["date_joined"])
        made.append(user.pk)
    return made


def walk(keyset: Keyset, size: int) -> tuple[list[int], list[list[int]]]:
    """Every row, page by page forwards; then the same pages backwards from the last one."""
    rows = get_user_model().objects.all()
    forwards, pages, after = [], [], None
    while True:
        page = keyset_page(rows, keyset=keyset, size=size, after=after)
        forwards.append([user.pk for user in page.rows])
        if page.next_key is None:
            break
        after = keyset.decode(page.next_cursor)
    before = page.previous_key
    while before is not None:
        page = keyset_page(rows, keyset=keyset, size=size, before=before)
        pages.insert(0, [user.pk for user in page.rows])
        before = page.previous_key
    return forwards, pages


def test_oldest_first_pages_cover_every_row_once_and_go_back_the_same_way(users):
    forwards, backwards = walk(OLDEST_FIRST, size=3)
    assert forwards == [users[0:3], users[3:6], users[6:7]]
    assert backwards == forwards[:-1]


def test_a_descending_keyset_reads_the_same_rows_in_reverse():
    keyset = Keyset(fields=("date_joined", "id"), parsers=(moment_parse, id_parse))
    assert keyset.ordering() == ["-date_joined", "-id"]
    assert keyset.ordering(backwards=True) == ["date_joined", "id"]
    assert OLDEST_FIRST.ordering() == ["date_joined", "id"]


def test_a_page_knows_which_way_more_rows_are(users):
    rows = get_user_model().objects.all()
    first = keyset_page(rows, keyset=OLDEST_FIRST, size=7)
    assert first.previous_key is None and first.next_key is None
    middle = keyset_page(rows, keyset=OLDEST_FIRST, size=2, after=OLDEST_FIRST.key_of(first.rows[1]))
    assert [user.pk for user in middle.rows] == users[2:4]
    assert middle.previous_cursor is not None and middle.next_cursor is not None
    assert keyset_page(rows.none(), keyset=OLDEST_FIRST, size=2).rows == []


def test_a_cursor_round_trips_and_damaged_ones_are_refused():
    key = (datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC), 42)
    assert NEWEST_FIRST.decode(NEWEST_FIRST.encode(key)) == key
    for damaged in ("", "garbage!", cursor_encode(["2024-01-01T12:00:00+00:00", "42"])):
        assert NEWEST_FIRST.key_or_none(damaged) is None
    with pytest.raises(InvalidCursor):
        NEWEST_FIRST.decode(cursor_encode(["2024-01-01T12:00:00", 42]))


def test_the_next_url_keeps_the_filters_and_puts_the_cursor_last():
    base = "http://testserver/api/things"
    assert next_page_url(base, {"cursor": "old", "status": "done", "limit": 5}, "new") == (
        "http://testserver/api/things?status=done&limit=5&cursor=new"
    )
    assert next_page_url(base, {"status": "done"}, None) is None
