"""`manage.py backfill_lineitem_order_date`: lines written before LineItem.order_date existed.

The small commerce world of the API tests (9 orders, 27 lines) with some lines' dates
taken away, as a table migrated from before the column would hold them.
"""

from contextlib import AbstractContextManager, nullcontext
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from apps.commerce.models import LineItem
from apps.commerce.services import lineitem_order_dates_backfill
from tests.commerce.test_api import commerce_world


@pytest.fixture
def undated_lines() -> list[int]:
    """The world, with the order date of every line but those of order 1 taken away."""
    commerce_world()
    LineItem.objects.exclude(order_id=1).update(order_date=None)
    return list(LineItem.objects.filter(order_date__isnull=True).order_by("id").values_list("id", flat=True))


def backfill(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("backfill_lineitem_order_date", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def lines_with_their_orders_date() -> int:
    return LineItem.objects.filter(order_date=F("order__order_date")).count()


@pytest.mark.django_db
def test_backfill_gives_every_line_its_orders_date_in_batches(undated_lines):
    assert len(undated_lines) == 24

    out, err = backfill("--batch-size", "4")

    assert lines_with_their_orders_date() == LineItem.objects.count() == 27
    # 27 consecutive ids, 4 per batch.
    assert out.startswith("Gave 24 line items their order's date in 7 batches (")
    assert err.startswith("lineitem ") and "27/27 ids" in err


@pytest.mark.django_db
def test_second_run_changes_nothing_and_says_so(undated_lines):
    backfill()
    dated = list(LineItem.objects.order_by("id").values_list("id", "order_date"))

    out, _ = backfill()

    assert out == "Every line item has its order's date already; nothing changed.\n"
    assert list(LineItem.objects.order_by("id").values_list("id", "order_date")) == dated


@pytest.mark.django_db
def test_backfill_of_an_empty_table_changes_nothing():
    out, err = backfill()

    assert out == "Every line item has its order's date already; nothing changed.\n"
    assert err == ""


class Interrupted(Exception):
    pass


class StopAfter:
    """A progress display whose operator interrupts the run after some batches."""

    def __init__(self, batches: int) -> None:
        self.batches = batches

    def __call__(self, label: str, total: int | None) -> AbstractContextManager["StopAfter"]:
        return nullcontext(self)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        self.batches -= 1
        if self.batches == 0:
            raise Interrupted


@pytest.mark.django_db(transaction=True)
def test_interrupted_run_keeps_its_finished_batches_and_the_next_run_does_the_rest(undated_lines):
    # Batches of 5 ids from the first line (order 1's three lines are dated already):
    # the first two batches hold 10 ids, 7 of them undated.
    with pytest.raises(Interrupted):
        lineitem_order_dates_backfill(batch_size=5, progress_factory=StopAfter(2))

    still_undated = list(LineItem.objects.filter(order_date__isnull=True).values_list("id", flat=True))
    assert sorted(still_undated) == undated_lines[7:]

    result = lineitem_order_dates_backfill(batch_size=5)

    assert result.lines == len(undated_lines) - 7
    assert lines_with_their_orders_date() == 27


@pytest.mark.parametrize("size", ["0", "-5"])
def test_batch_size_below_1_is_refused_in_one_line(size):
    with pytest.raises(CommandError) as refused:
        backfill("--batch-size", size)

    assert str(refused.value) == f"--batch-size must be at least 1 (got {size})."
