from django.core.management.base import BaseCommand, CommandError

from apps.monitoring.models import MetricKind
from apps.monitoring.selectors.metrics import SORTS, WINDOWS, sort_summaries, summaries, window_get
from apps.monitoring.selectors.slow_queries import slow_queries_costliest


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _table(headers: list[str], rows: list[list[str]], *, right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


class Command(BaseCommand):
    help = "Print the top endpoints (p50/p95/p99, calls, errors) and the slow queries as tables."

    def add_arguments(self, parser):
        parser.add_argument("--window", default="1h", help=f"Time window: {', '.join(WINDOWS)} (default 1h).")
        parser.add_argument(
            "--sort", default="total", help=f"Sort endpoints by: {', '.join(SORTS)} (default total time)."
        )
        parser.add_argument("--limit", type=int, default=20, help="Rows per table (default 20).")

    def handle(self, *args, window: str, sort: str, limit: int, **options):
        if window not in WINDOWS:
            raise CommandError(f"--window must be one of {', '.join(WINDOWS)} (got {window!r}).")
        if sort.lstrip("-") not in SORTS:
            raise CommandError(f"--sort must be one of {', '.join(SORTS)} (got {sort!r}).")
        if not 1 <= limit <= 1000:
            raise CommandError(f"--limit must be from 1 to 1000 (got {limit}).")
        _, span = window_get(window)
        _, rows = sort_summaries(summaries(kinds=[MetricKind.REQUEST], window=span), sort)
        self.stdout.write(f"Top endpoints, last {window} (by {sort.lstrip('-')}):")
        table = [
            [
                row.key[:80],
                f"{row.count:,}",
                _ms(row.p50),
                _ms(row.p95),
                _ms(row.p99),
                f"{row.errors:,}",
                f"{row.queries_per_call:.1f}",
                _ms(row.total_ms),
            ]
            for row in rows[:limit]
        ]
        headers = ["endpoint", "calls", "p50 ms", "p95 ms", "p99 ms", "5xx", "queries/req", "total ms"]
        self.stdout.write(_table(headers, table, right={1, 2, 3, 4, 5, 6, 7}) if table else "(no requests)")
        self.stdout.write("")
        self.stdout.write("Slow queries and N+1 (most total time first):")
        queries = slow_queries_costliest(limit=limit)
        table = [
            [
                q.source[:50],
                q.normalized_sql[:70],
                q.code_line[:60],
                f"{q.slow_calls:,}",
                f"{q.nplus1_hits:,}",
                _ms(q.max_ms),
                _ms(q.mean_ms),
            ]
            for q in queries
        ]
        headers = ["endpoint/job", "statement", "code line", "slow", "n+1", "max ms", "mean ms"]
        self.stdout.write(_table(headers, table, right={3, 4, 5, 6}) if table else "(none recorded)")
