"""Real processes for integration tests: ``qcluster`` and ``jobs_dispatcher`` on loopback.

They run on the pytest test database (rows are committed: ``transactional_db``) and on
the Redis database of REDIS_URL, which is flushed before each test. Every process is
started in its own session and its whole process group is ended in teardown, also when
the test fails; its output goes to a log file whose tail is shown with a failure.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from apps.jobs import broker
from tests.conftest import missing

# Short timings so that recovery, republishing and forced cancels happen within seconds.
# The test process gets the same values as the subprocesses (see ``live``).
FAST_TIMINGS = {
    "JOBS_HEARTBEAT_INTERVAL": 0.5,
    "JOBS_HEARTBEAT_STALE_AFTER": 3.0,
    "JOBS_CANCEL_GRACE": 2.0,
    "JOBS_REPUBLISH_AFTER": 1.0,
}
MANAGE = Path(settings.BASE_DIR) / "manage.py"
LOG_TAIL_LINES = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The test database (test_<name>) as a URL for the subprocesses."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Live:
    """The processes one test started, and ways to wait for what they do."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self.redis = redis.Redis.from_url(env["REDIS_URL"])

    # --- processes ------------------------------------------------------------------------

    def start(self, name: str, *args: str, **env: Any) -> subprocess.Popen:
        """``manage.py <args>`` in its own session (its pid is its process group id)."""
        return self._spawn(name, [str(MANAGE), *args], env)

    def start_gunicorn(self, **env: Any) -> str:
        """gunicorn on a free loopback port, stopped like the others; its base URL once it serves."""
        port = free_port()
        self._spawn(
            "gunicorn",
            ["-m", "gunicorn", "config.wsgi", "--config", "config/gunicorn.conf.py", "--no-control-socket"],
            {"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": 2, **env},
        )
        base_url = f"http://127.0.0.1:{port}"

        def serving() -> bool:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310
                    return response.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        self.wait_for(serving, timeout=60, what="gunicorn to answer /healthz", every=0.2)
        return base_url

    def _spawn(self, name: str, args: list[str], env: dict[str, Any]) -> subprocess.Popen:
        assert name not in self.processes or self.processes[name].poll() is not None, f"{name} runs already"
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed in stop)
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=settings.BASE_DIR,
            env={**self.env, **{key: str(value) for key, value in env.items()}},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        process.log = log
        self.processes[name] = process
        return process

    def start_workers(self, queue: str = "default", workers: int = 2) -> subprocess.Popen:
        return self.start(
            f"qcluster-{queue}",
            "qcluster",
            Q_CLUSTER_NAME=queue,
            **{f"JOBS_WORKERS_{queue.upper()}": workers},
        )

    def start_dispatcher(self) -> subprocess.Popen:
        return self.start("dispatcher", "jobs_dispatcher")

    def stop(self, name: str, *, grace: float = 10.0) -> None:
        """SIGTERM to the process, SIGKILL to its whole group after it ended or ``grace`` seconds.

        SIGTERM goes to the leader only: a qcluster whose sentinel is killed by the same
        signal deadlocks in its own stop().
        """
        process = self.processes[name]
        process.expected_exit = True
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=grace)
            # Workers of a cluster outlive their parent if it died first: end the group.
            self._signal_group(process, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            process.log.close()

    def stop_all(self) -> None:
        errors = []
        for name in list(self.processes):
            try:
                self.stop(name)
            except Exception as exc:
                errors.append(f"{name}: {exc}")
        assert not errors, f"could not stop: {errors}"

    @staticmethod
    def _signal_group(process: subprocess.Popen, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` belongs to one of the process groups this test started."""
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            return False
        return group in {process.pid for process in self.processes.values()}

    def logs(self) -> str:
        tails = []
        for name in self.processes:
            path = self.log_dir / f"{name}.log"
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            tails.append(
                f"--- {name} (last {LOG_TAIL_LINES} lines) ---\n" + "\n".join(lines[-LOG_TAIL_LINES:])
            )
        return "\n".join(tails)

    # --- waiting ----------------------------------------------------------------------------

    def wait_for(
        self, condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05
    ) -> Any:
        """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            for name, process in self.processes.items():
                if process.poll() is not None and not getattr(process, "expected_exit", False):
                    pytest.fail(
                        f"{name} exited ({process.returncode}) while waiting for {what}\n{self.logs()}"
                    )
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}\n{self.logs()}")
            time.sleep(every)

    def queue_length(self, queue: str = "default") -> int:
        return self.redis.llen(f"django_q:{queue}:q")


@pytest.fixture
def live(transactional_db, requires_postgres, requires_redis, settings, tmp_path, monkeypatch):
    """Start processes with ``live.start_workers()`` / ``live.start_dispatcher()``; all stop after."""
    if urlsplit(settings.REDIS_URL).path.strip("/") in ("", "0"):
        missing("integration tests flush their Redis database: give REDIS_URL a dedicated number (…/15)")
    # A broker failure seen by an earlier test must not keep this one from publishing.
    broker.circuit.reset()
    for name, value in FAST_TIMINGS.items():
        setattr(settings, name, value)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        # The subprocesses must not read from the real database's replicas.
        "DATABASE_REPLICA_URLS": "",
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "0",
        # Broker messages are signed with it: the same key as the test process.
        "SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "INFO",
        "JOBS_BROKER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **{name: str(value) for name, value in FAST_TIMINGS.items()},
    }
    processes = Live(env, tmp_path)
    processes.redis.flushdb()
    try:
        yield processes
    finally:
        processes.stop_all()
        processes.redis.close()
        broker.circuit.reset()
