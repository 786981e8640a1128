import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from apps.jobs import services

logger = logging.getLogger("apps.jobs")


class Command(BaseCommand):
    help = (
        "Run the jobs dispatcher loop: publish due retries and scheduled jobs, re-run jobs "
        "whose worker died, republish jobs the broker lost, enqueue periodic jobs. "
        "Safe to run more than once at a time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between rounds (default: JOBS_DISPATCHER_INTERVAL, 0.5).",
        )
        parser.add_argument("--once", action="store_true", help="Run one round and exit.")

    def handle(self, *args, interval: float | None, once: bool, **options):
        interval = interval or settings.JOBS_DISPATCHER_INTERVAL
        if not 0 < interval <= 3600:
            raise CommandError(f"--interval must be more than 0 and at most 3600 seconds (got {interval}).")
        stopping = threading.Event()

        def stop(signum, frame):
            logger.info("dispatcher: %s received, finishing this round", signal.Signals(signum).name)
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info("dispatcher: started (interval %.2fs)", interval)
        # Slower steps run every few rounds: they look at more rows or at the broker.
        every = {"publish_due": 0, "recover_stale": 2, "republish_lost": 2, "schedules": 5}
        last_run = dict.fromkeys(every, 0.0)
        steps = {
            "publish_due": services.jobs_publish_due,
            "recover_stale": services.jobs_recover_stale,
            "republish_lost": services.jobs_republish_lost,
            "schedules": services.jobs_enqueue_scheduled,
        }
        while not stopping.is_set():
            close_old_connections()
            now = time.monotonic()
            for name, step in steps.items():
                if now - last_run[name] < every[name]:
                    continue
                last_run[name] = now
                try:
                    step()
                except Exception:
                    # A database or broker hiccup must not end the loop; next round retries.
                    logger.exception("dispatcher: step %s failed", name)
            if once:
                break
            stopping.wait(interval)
        close_old_connections()
        logger.info("dispatcher: stopped")
