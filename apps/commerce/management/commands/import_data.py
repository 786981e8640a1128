from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.commerce.management.console import failures_as_command_errors, progress_bars
from apps.commerce.services import IMPORT_TABLES, MAX_ERRORS, csv_import, import_table


class Command(BaseCommand):
    help = (
        "Import a CSV file in the TPC-H column layout (as `tpchgen-cli csv` writes it) into one "
        "table: every row is checked first, then all rows are imported, or none."
    )

    def add_arguments(self, parser):
        parser.add_argument("table", help=f"The table to import into: {', '.join(IMPORT_TABLES)}.")
        parser.add_argument("file", type=Path, help="The CSV file, with its header line.")
        parser.add_argument(
            "--max-errors",
            type=int,
            default=MAX_ERRORS,
            help=f"Problems listed when the file is rejected (default {MAX_ERRORS}).",
        )

    def handle(self, *args, table: str, file: Path, max_errors: int, **options):
        if max_errors < 1:
            raise CommandError("--max-errors must be at least 1.")
        with failures_as_command_errors(migrate_hint=False):
            spec = import_table(table)
            if not file.is_file():
                raise CommandError(f"{file} does not exist or is not a file.")
            outcome = csv_import(
                table=spec,
                path=file,
                filename=file.name,
                max_errors=max_errors,
                progress_factory=progress_bars(self.stderr),
            )

        if not outcome.imported:
            if len(outcome.errors) > 1:
                for error in outcome.errors:
                    self.stderr.write(f"  {error.text}")
                if outcome.more_errors:
                    self.stderr.write("  …")
            raise CommandError(outcome.message)
        self.stdout.write(f"{outcome.message[:-1]} ({outcome.rows_per_second:,.0f} rows/s).")
