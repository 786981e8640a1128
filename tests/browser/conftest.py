"""Browser tests: Debian's chromium driven by Playwright against real processes.

The pages are served by gunicorn and the jobs run by a real ``qcluster``, both started
here on loopback against the test database, and always stopped again (by PID). They
need PostgreSQL: SQLite's in-memory test database cannot be shared with another process.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connections

from tests.conftest import missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BASE_DIR = Path(settings.BASE_DIR)
STARTUP_DEADLINE = 30.0


def _test_database_url() -> str:
    """DATABASE_URL of the test database pytest-django created (test_<name>)."""
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A child process with its output in a file; stop() ends it and its children."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        # Its own session: stop() can signal the process group (qcluster's and gunicorn's
        # workers too) without touching anything this test did not start.
        self.popen = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log_tail(self, lines: int = 120) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM to the parent only (it stops its own workers: qcluster hangs when its
        children get the signal too), then SIGKILL whatever of the group is left."""
        pid = self.popen.pid
        try:
            if self.popen.poll() is None:
                os.kill(pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    sys.stderr.write(f"{self.name} ignored SIGTERM for 15s; killing it\n")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            self.popen.wait(timeout=5)
        finally:
            self._log.close()


@pytest.fixture
def chromium_launch_args() -> dict:
    """How to launch Debian's chromium; skips (fails under CI) when it or Playwright is absent."""
    if not CHROMIUM.exists():
        missing(f"needs Debian's chromium at {CHROMIUM}: apt-get install -y chromium (or run .ci/run)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("needs the playwright package: pip install -r requirements-dev.txt")
    return {"executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_page(chromium_launch_args, monkeypatch):
    """A fresh page in a headless chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls
    # are still synchronous (Playwright's own advice for Django tests).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_args)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()
            # With Playwright's loop running, Django keeps this thread's connections per
            # context (asgiref): the test's ORM calls used ones of their own. Hand them
            # back now, or the test database cannot be dropped at the end.
            connections.close_all()


@pytest.fixture
def tempo_processes(requires_postgres, transactional_db, tmp_path) -> Iterator[dict]:
    """gunicorn and a qcluster for the default queue, on the test database (and Redis).

    Yields ``{"base_url": ..., "processes": [...]}``; the test's writes must be committed
    (transactional_db) for these processes to see them.
    """
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DATABASE_REPLICA_URLS": "",
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "1" if settings.DEBUG else "0",
        "DEBUG_TOOLBAR": "0",
        "PYTHONUNBUFFERED": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "Q_CLUSTER_NAME": "default",
        "JOBS_WORKERS_DEFAULT": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    python = sys.executable
    processes: list[Process] = []
    try:
        # gunicorn's default control socket is one path per user: keep clear of others.
        gunicorn = [python, "-m", "gunicorn", "config.wsgi", "--config", "config/gunicorn.conf.py"]
        processes.append(Process("gunicorn", [*gunicorn, "--no-control-socket"], env, tmp_path))
        processes.append(Process("qcluster", [python, "manage.py", "qcluster"], env, tmp_path))
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(base_url, processes)
        yield {"base_url": base_url, "processes": processes}
    finally:
        for process in processes:
            process.stop()
        # pytest shows captured output only when something failed: then these explain it.
        for process in processes:
            sys.stderr.write(f"--- {process.name} (last lines) ---\n{process.log_tail()}\n")


def _wait_until_serving(base_url: str, processes: list[Process]) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        for process in processes:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer {base_url}/healthz within {STARTUP_DEADLINE:g}s")
        time.sleep(0.1)
