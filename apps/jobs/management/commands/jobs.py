"""``manage.py jobs list|show|retry|cancel|purge``: the jobs console for operators."""

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.jobs import selectors, services
from apps.jobs.errors import JobInputError, JobStateError
from apps.jobs.models import FINAL_STATUSES, WAITING_STATUSES, Job, Status

# A table longer than this is no use on a terminal; --status/--kind narrow it down.
MAX_LIST_LIMIT = 100_000


def _age(since: datetime, now: datetime) -> str:
    """A short human age: 45s, 12m, 3h, 9d."""
    seconds = max((now - since).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


class Command(BaseCommand):
    help = "Inspect and manage background jobs: list, show, retry, cancel, purge."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        listing = actions.add_parser("list", help="Recent jobs, newest first, as a table.")
        listing.add_argument("--status", choices=Status.values, help="Only jobs in this status.")
        listing.add_argument("--kind", help="Only jobs of this kind (e.g. diagnostics.sleep).")
        listing.add_argument("--queue", help="Only jobs on this queue (high, default, low).")
        listing.add_argument("--limit", type=int, default=50, help="At most this many jobs (default 50).")

        show = actions.add_parser("show", help="One job: its fields, attempts history and log.")
        show.add_argument("job_id", metavar="UUID", help="The job's id.")

        retry = actions.add_parser("retry", help="Replay dead or cancelled jobs; run failed ones' retry now.")
        retry.add_argument("job_ids", metavar="UUID", nargs="+", help="Ids of the jobs to retry.")

        cancel = actions.add_parser("cancel", help="Cancel waiting jobs; ask running ones to stop.")
        cancel.add_argument("job_ids", metavar="UUID", nargs="+", help="Ids of the jobs to cancel.")

        purge = actions.add_parser(
            "purge", help="Delete ended jobs (succeeded, dead, cancelled) older than N days."
        )
        purge.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help="Only jobs that finished more than N days ago (default: JOBS_RETENTION_DAYS).",
        )
        purge.add_argument(
            "--status",
            action="append",
            choices=[str(status) for status in FINAL_STATUSES],
            help="Only jobs in this status; repeat for several (default: all three).",
        )
        purge.add_argument(
            "--dry-run", action="store_true", help="Count the jobs that would go; delete nothing."
        )

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"handle_{action}")(**options)

    # --- list ------------------------------------------------------------------------

    def handle_list(
        self, *, status: str | None, kind: str | None, queue: str | None, limit: int, **_
    ) -> None:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise CommandError(f"--limit must be from 1 to {MAX_LIST_LIMIT:,} (got {limit}).")
        jobs = list(selectors.jobs_list(status=status, kind=kind, queue=queue)[:limit])
        if not jobs:
            self.stdout.write("No jobs.")
            return
        now = timezone.now()
        rows = [
            (
                str(job.uuid),
                job.kind,
                job.queue,
                job.status,
                f"{job.attempts}/{job.max_attempts}",
                f"{job.percent:g}%" if job.percent is not None else "-",
                _when(job.created_at),
                _age(job.created_at, now),
            )
            for job in jobs
        ]
        header = ("ID", "KIND", "QUEUE", "STATUS", "ATTEMPTS", "PROGRESS", "CREATED", "AGE")
        for line in _table(header, rows):
            self.stdout.write(line)

    # --- show ------------------------------------------------------------------------

    def _job(self, job_id: str) -> Job:
        job = selectors.job_get_by_uuid(job_id=job_id)
        if job is None:
            raise CommandError(f"No job with id {job_id!r}.")
        return job

    def handle_show(self, *, job_id: str, **_) -> None:
        job = self._job(job_id)
        progress = job.progress_figures
        if job.progress_message:
            progress += f": {job.progress_message}"
        fields = [
            ("id", str(job.uuid)),
            ("kind", job.kind),
            ("queue", job.queue),
            ("status", job.status + (" (cancel requested)" if job.cancel_requested_at else "")),
            ("owner", job.owner.get_username() if job.owner else "- (system)"),
            ("attempts", f"{job.attempts}/{job.max_attempts}"),
            ("progress", progress),
            ("created", _when(job.created_at)),
            ("run at", _when(job.run_at) if job.status in WAITING_STATUSES else "-"),
            ("started", _when(job.started_at)),
            ("heartbeat", _when(job.heartbeat_at)),
            ("finished", _when(job.finished_at)),
            ("worker", job.worker or "-"),
            ("params", json.dumps(job.params, sort_keys=True)),
            (
                "result",
                json.dumps(job.result, sort_keys=True, default=str) if job.result is not None else "-",
            ),
            ("error", job.error or "-"),
        ]
        width = max(len(name) for name, _ in fields)
        for name, value in fields:
            self.stdout.write(f"{name.ljust(width)}  {value}")

        history = list(job.attempt_history.all())
        self.stdout.write("")
        self.stdout.write(f"Attempts ({len(history)}):")
        if history:
            rows = [
                (
                    str(attempt.number),
                    attempt.outcome,
                    _when(attempt.started_at),
                    f"{(attempt.finished_at - attempt.started_at).total_seconds():.1f}s"
                    if attempt.finished_at
                    else "-",
                    attempt.worker or "-",
                    (attempt.error.splitlines() or ["-"])[0][:120],
                )
                for attempt in history
            ]
            for line in _table(("#", "OUTCOME", "STARTED", "TOOK", "WORKER", "ERROR"), rows):
                self.stdout.write(f"  {line}")

        self.stdout.write("")
        self.stdout.write(f"Log ({len(job.log)} line{'s' if len(job.log) != 1 else ''}):")
        for line in job.log:
            self.stdout.write(f"  {line}")
        if job.traceback:
            self.stdout.write("")
            self.stdout.write("Traceback of the last failure:")
            self.stdout.write(job.traceback.rstrip())

    # --- retry and cancel ------------------------------------------------------------

    def _act(self, job_ids: list[str], *, infinitive: str, act, describe) -> None:
        # Every id must exist before anything is done: a typo stops the whole command.
        jobs = [self._job(job_id) for job_id in dict.fromkeys(job_ids)]
        refused = []
        for job in jobs:
            try:
                job = act(job)
            except JobStateError as exc:
                refused.append(f"{job.uuid}: {exc}")
                continue
            self.stdout.write(describe(job))
        if refused:
            raise CommandError(f"Could not {infinitive} " + "; ".join(refused))

    def handle_retry(self, *, job_ids: list[str], **_) -> None:
        self._act(
            job_ids,
            infinitive="retry",
            act=lambda job: services.job_retry(job=job),
            describe=lambda job: f"Retried {job.uuid} ({job.kind}): now {job.status}.",
        )

    def handle_cancel(self, *, job_ids: list[str], **_) -> None:
        self._act(
            job_ids,
            infinitive="cancel",
            act=lambda job: services.job_cancel(job=job),
            describe=lambda job: (
                f"Cancelled {job.uuid} ({job.kind})."
                if job.status == Status.CANCELLED
                else f"Asked {job.uuid} ({job.kind}) to stop; it is still {job.status}."
            ),
        )

    # --- purge -----------------------------------------------------------------------

    def handle_purge(
        self, *, older_than_days: int | None, status: list[str] | None, dry_run: bool, **_
    ) -> None:
        days = settings.JOBS_RETENTION_DAYS if older_than_days is None else older_than_days
        if days < 0:
            raise CommandError(f"--older-than-days cannot be negative (got {days}).")
        statuses = tuple(dict.fromkeys(status)) if status else FINAL_STATUSES
        try:
            count = services.jobs_purge(older_than_days=days, statuses=statuses, dry_run=dry_run)
        except JobInputError as exc:
            raise CommandError(str(exc)) from None
        which = ", ".join(str(s) for s in statuses)
        cutoff = _when(timezone.now() - timedelta(days=days))
        if dry_run:
            self.stdout.write(f"Would delete {count} jobs ({which}) that finished before {cutoff}.")
        else:
            self.stdout.write(f"Deleted {count} jobs ({which}) that finished before {cutoff}.")
