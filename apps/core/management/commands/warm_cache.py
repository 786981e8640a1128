import time

from django.core.management.base import BaseCommand, CommandError

from apps.core import caching


class Command(BaseCommand):
    help = (
        "Fill the cache with the hottest keys of every app (run it after a deploy, before "
        "traffic arrives); apps register their warmers in their tasks modules."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", action="append", default=[], metavar="NAME", help="Run only this warmer (repeatable)."
        )
        parser.add_argument(
            "--limit", type=int, default=1000, help="Keys per warmer, hottest first (default 1000)."
        )
        parser.add_argument(
            "--list", dest="list_only", action="store_true", help="List the warmers and do nothing else."
        )

    def handle(self, *args, only, limit, list_only, **options):
        available = caching.warmers()
        if list_only:
            for name, func in available.items():
                self.stdout.write(f"{name}: {(func.__doc__ or '').strip().splitlines()[0]}")
            return
        if limit < 1:
            raise CommandError(f"--limit must be at least 1 (got {limit}).")
        unknown = sorted(set(only) - set(available))
        if unknown:
            raise CommandError(
                f"Unknown warmer {', '.join(unknown)}; known: {', '.join(available) or 'none'}."
            )
        if not caching.caching_enabled():
            raise CommandError("CACHE_ENABLED is off: there is no cache to warm.")
        for name, func in available.items():
            if only and name not in only:
                continue
            started = time.perf_counter()
            count = func(limit)
            self.stdout.write(f"{name}: {count:,} keys in {time.perf_counter() - started:.2f}s")
