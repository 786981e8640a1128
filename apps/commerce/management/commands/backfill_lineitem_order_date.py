from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, ProgrammingError

from apps.commerce.services import (
    BACKFILL_BATCH_SIZE,
    DatasetError,
    database_check,
    lineitem_order_dates_backfill,
)
from apps.commerce.services.loading import first_line
from apps.core.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Give every line item without an order date its order's date (LineItem.order_date, the "
        "partition key of docs/scaling.md), one range of line-item ids per transaction. Lines "
        "that have it are left alone: running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BACKFILL_BATCH_SIZE,
            help=f"Line-item ids per transaction (default {BACKFILL_BATCH_SIZE:,}): smaller batches "
            "hold their row locks for less time.",
        )

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1 (got {batch_size}).")
        try:
            database_check()
            result = lineitem_order_dates_backfill(
                batch_size=batch_size,
                progress_factory=lambda label, total: ProgressBar(self.stderr, label, total, unit="ids"),
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
        except ProgrammingError as exc:
            raise CommandError(f"Database error: {first_line(exc)} (has `manage.py migrate` run?)") from None
        except DatabaseError as exc:
            raise CommandError(f"Database error: {first_line(exc)}") from None

        if result.lines:
            self.stdout.write(
                f"Gave {result.lines:,} line items their order's date in {result.batches:,} "
                f"batches ({result.seconds:.1f} s)."
            )
        else:
            self.stdout.write("Every line item has its order's date already; nothing changed.")
