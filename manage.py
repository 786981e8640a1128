#!/usr/bin/env python
"""Django's command-line utility for Tempo."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["qcluster"]:
        # A job worker process: settings give it per-process connections, not a pool that
        # django-q2's fork would share (JOBS_WORKER_PROCESS in README).
        os.environ.setdefault("JOBS_WORKER_PROCESS", "1")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A configuration mistake deserves one readable line, not a traceback.
        sys.exit(f"Configuration error: {exc}")


if __name__ == "__main__":
    main()
