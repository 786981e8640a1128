from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.commerce.management.console import failures_as_command_errors, progress_bars
from apps.commerce.services import LoadStatus, database_check, dataset_load, dataset_scale, scale_text


class Command(BaseCommand):
    help = (
        "Generate TPC-H data with tpchgen-cli and load it into the commerce tables, all or "
        "nothing (COPY on PostgreSQL, batched inserts on SQLite)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            required=True,
            help="TPC-H scale factor, greater than 0 (0.01 = 60,175 line items, 1 = 6 million).",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete whatever the commerce tables hold and load this scale instead.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only if the commerce tables are empty; otherwise say so and do nothing.",
        )
        parser.add_argument(
            "--from-dir",
            type=Path,
            help="Load the CSV files tpchgen-cli already wrote into this folder instead of "
            "generating them (they must be of the given scale).",
        )

    def handle(self, *args, scale: str, replace: bool, if_empty: bool, from_dir: Path | None, **options):
        if replace and if_empty:
            raise CommandError("Use either --replace or --if-empty, not both.")
        with failures_as_command_errors():
            scale_value = dataset_scale(scale)
            database_check()
            result = dataset_load(
                scale=scale_value,
                replace=replace,
                if_empty=if_empty,
                directory=from_dir,
                progress_factory=progress_bars(self.stderr),
            )

        if result.status == LoadStatus.DATA_PRESENT:
            self.stdout.write("The commerce tables already hold data; not loading TPC-H (--if-empty).")
        elif result.status == LoadStatus.ALREADY_LOADED:
            self.stdout.write(
                f"TPC-H scale {scale_text(result.scale)} is already loaded ({result.rows:,} rows); "
                "nothing changed. Use --replace to load it again."
            )
        else:
            self.stdout.write(
                f"Loaded TPC-H scale {scale_text(result.scale)}: {result.rows:,} rows in "
                f"{result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s) into {result.vendor}"
            )
