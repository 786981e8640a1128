"""`manage.py run_report NAME --param k=v --format csv --output FILE` (or --enqueue)."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core.progress import ProgressBar
from apps.jobs.errors import JobInputError
from apps.reports import services
from apps.reports.catalog import REPORTS


class Command(BaseCommand):
    help = "Run a report from the catalog: inline into a file (with a progress bar), or as a job."

    def add_arguments(self, parser) -> None:
        parser.add_argument("report", help=f"Report name: {', '.join(REPORTS)}.")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A report parameter (repeat for several); unset ones take their defaults.",
        )
        parser.add_argument(
            "--format", default="csv", choices=["csv", "xlsx"], help="Output format (default csv)."
        )
        parser.add_argument(
            "--output", help="File to write (inline runs). Refuses to overwrite without --force."
        )
        parser.add_argument("--force", action="store_true", help="Overwrite --output if it exists.")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Submit a job instead of running inline; prints the job id (download from /reports/).",
        )
        parser.add_argument(
            "--user", help="Owner of an enqueued run (a username; default: no owner, staff only)."
        )

    def handle(self, *args, report: str, param: list[str], format: str, **options) -> None:
        params = {}
        for item in param:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"--param must look like NAME=VALUE (got {item!r}).")
            params[name.strip()] = value
        try:
            if options["enqueue"]:
                self.run_enqueued(report, params, format, output=options["output"], username=options["user"])
            else:
                self.run_inline(report, params, format, output=options["output"], force=options["force"])
        except JobInputError as exc:
            # A refused request or submit (ReportInputError, or the jobs' quota): one line.
            raise CommandError(str(exc)) from None

    def run_enqueued(
        self, report: str, params: dict, format: str, *, output: str | None, username: str | None
    ) -> None:
        """Submit the run as a job (report_run_create validates it); print the job's id."""
        if output:
            raise CommandError("--output is for inline runs; an enqueued run is downloaded from /reports/.")
        owner = None
        if username:
            owner = get_user_model().objects.filter(username=username).first()
            if owner is None:
                raise CommandError(f"No user named {username!r}.")
        run = services.report_run_create(owner=owner, report=report, params=params, format=format)
        self.stdout.write(str(run.job.uuid))

    def run_inline(self, report: str, params: dict, format: str, *, output: str | None, force: bool) -> None:
        """Run the report here, into the --output file, with a progress bar."""
        definition, clean, format = services.report_request_validated(
            report=report, params=params, format=format
        )
        if not output:
            raise CommandError("Give --output FILE for an inline run, or --enqueue.")
        path = Path(output)
        if path.exists() and not force:
            raise CommandError(f"{path} exists; use --force to overwrite it.")
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a directory.")
        bar = ProgressBar(self.stderr, definition.name, None)
        stats = services.report_file_write(
            definition=definition, params=clean, format=format, path=path, progress=bar
        )
        bar.finish()
        self.stdout.write(
            f"Wrote {stats.rows:,} row{'s' * (stats.rows != 1)} ({stats.size:,} bytes, "
            f"sha256 {stats.checksum}) to {path}"
        )
