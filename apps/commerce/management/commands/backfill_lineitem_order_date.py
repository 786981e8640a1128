from django.core.management.base import BaseCommand, CommandError

from apps.commerce.management.console import failures_as_command_errors, progress_bars
from apps.commerce.services import BACKFILL_BATCH_SIZE, database_check, lineitem_order_dates_backfill


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
        with failures_as_command_errors():
            database_check()
            result = lineitem_order_dates_backfill(
                batch_size=batch_size, progress_factory=progress_bars(self.stderr, unit="ids")
            )

        if result.lines:
            self.stdout.write(
                f"Gave {result.lines:,} line items their order's date in {result.batches:,} "
                f"batches ({result.seconds:.1f} s)."
            )
        else:
            self.stdout.write("Every line item has its order's date already; nothing changed.")
