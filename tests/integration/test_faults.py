"""Faults under real processes: the database or the broker going away while jobs run or arrive.

The database is the record and the broker a fast path (DESIGN.md): whatever breaks, each
job ends once, and a request that enqueues never fails because the broker is down.
The broker-down tests run their own redis-server on a free loopback port, started and
stopped by PID; nothing else on the machine is touched.
"""

import contextlib
import itertools
import shutil
import signal
import socket
import subprocess
import time

import pytest
from django.db import connection
from django.test import Client
from django_q.conf import Conf

from apps.core.services import api_token_create
from apps.jobs import broker, services
from apps.jobs.models import Job, JobAttempt, Status
from tests.conftest import missing
from tests.integration.test_jobs_processes import END, START, attempts_of, ended, running

pytestmark = pytest.mark.integration

Outcome = JobAttempt.Outcome

# libpq names the workers' connections so: pg_stat_activity tells them from everyone else's.
WORKERS_APPLICATION = "tempo-test-qcluster"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on 127.0.0.1:<port>, no persistence; stopped by its PID."""

    def __init__(self, port: int, log_path) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.log = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("needs redis-server (Debian package redis-server)")
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in kill)
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.log.close()
        self.process = None


@pytest.fixture
def private_redis(tmp_path, monkeypatch, settings):
    """A redis-server of this test's own; the test process's broker publishes to it."""
    server = RedisServer(free_port(), tmp_path / "redis.log")
    server.start()
    monkeypatch.setattr(Conf, "REDIS", server.url)
    # Connections made so far point elsewhere; the circuit starts closed.
    monkeypatch.setattr(broker._local, "brokers", {}, raising=False)
    broker.circuit.reset()
    settings.JOBS_BROKER_RETRY_AFTER = 1.0
    try:
        yield server
    finally:
        server.kill()
        broker.circuit.reset()


def worker_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [WORKERS_APPLICATION])
        return [row[0] for row in cursor.fetchall()]


def test_workers_database_connections_killed_midway_job_ends_once(live):
    live.start(
        "qcluster-default",
        "qcluster",
        Q_CLUSTER_NAME="default",
        JOBS_WORKERS_DEFAULT=2,
        PGAPPNAME=WORKERS_APPLICATION,
    )
    live.start_dispatcher()
    job = services.enqueue("diagnostics.sleep", params={"seconds": 3, "steps": 12})
    live.wait_for(running(job, progress_at_least=2), timeout=START, what="the job to start")

    backends = worker_backends()
    assert backends, "the workers hold no database connection named for this test"
    with connection.cursor() as cursor:
        cursor.execute("SELECT bool_and(pg_terminate_backend(pid)) FROM unnest(%s::int[]) AS pid", [backends])
        assert cursor.fetchone()[0] is True
    done = live.wait_for(ended(job), timeout=END + START, what="the job to end after its connections died")

    assert done.status == Status.SUCCEEDED, (done.error, [a.outcome for a in attempts_of(done)])
    assert done.result == {"slept": 3.0}
    history = attempts_of(done)
    # One run completed; the one whose connection died was recorded as lost at once (the
    # worker reconnected to say so, not waiting for its heartbeat to go stale), given back
    # and run again; none overlapped.
    assert [a.outcome for a in history].count(Outcome.SUCCEEDED) == 1
    assert history[-1].outcome == Outcome.SUCCEEDED
    assert [a.outcome for a in history[:-1]] == [Outcome.LOST], [a.error for a in history]
    assert "terminating connection" in history[0].error
    assert "heartbeat" not in history[0].error
    for before, after in itertools.pairwise(history):
        assert before.finished_at is not None and before.finished_at <= after.started_at


def test_enqueue_while_redis_is_down_answers_and_the_job_runs_once_when_it_is_back(
    live, private_redis, alice, settings
):
    env = {"REDIS_URL": private_redis.url, "JOBS_BROKER_RETRY_AFTER": "1"}
    live.start("qcluster-default", "qcluster", Q_CLUSTER_NAME="default", JOBS_WORKERS_DEFAULT=2, **env)
    live.start("dispatcher", "jobs_dispatcher", **env)
    warm = services.enqueue("diagnostics.noop")
    live.wait_for(ended(warm), timeout=START, what="the cluster to take a first job")

    private_redis.kill()
    by_service = services.enqueue("diagnostics.noop", owner=alice)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=alice)[1]}")
    response = client.post("/api/jobs", {"kind": "diagnostics.noop"}, content_type="application/json")

    assert response.status_code == 202, response.content
    by_api = Job.objects.get(uuid=response.json()["id"])
    jobs = [by_service, by_api]
    assert {job.status for job in Job.objects.filter(pk__in=[j.pk for j in jobs])} == {Status.QUEUED}
    # The broker is taken for down: the next publish does not even try it.
    assert not broker.broker_available()

    private_redis.start()
    live.wait_for(
        lambda: Job.objects.filter(pk__in=[j.pk for j in jobs], status=Status.SUCCEEDED).count() == 2,
        timeout=START,
        what="the jobs enqueued while Redis was down to run once it is back",
    )
    assert list(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("attempts", flat=True)) == [1, 1]
    assert JobAttempt.objects.filter(job__in=jobs).count() == 2


@pytest.fixture
def hanging_broker(requires_redis, monkeypatch, settings):
    """The broker's Redis is a loopback socket that accepts connections and never answers;
    publishing gives up after 0.5 s."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
    monkeypatch.setattr(broker._local, "brokers", {}, raising=False)
    broker.circuit.reset()
    settings.JOBS_BROKER_TIMEOUT = 0.5
    yield
    silent.close()
    broker.circuit.reset()


@pytest.mark.django_db
def test_a_hanging_broker_costs_one_timeout_then_publishes_are_skipped_until_the_retry(
    hanging_broker, settings
):
    settings.JOBS_BROKER_RETRY_AFTER = 0.5
    started = time.monotonic()
    assert broker.publish(1, queue="default", timeout=30) is False
    first = time.monotonic() - started
    started = time.monotonic()
    assert broker.publish(2, queue="default", timeout=30) is False
    assert broker.queue_size("default") is None
    skipped = time.monotonic() - started

    # Bounded by the timeout (not the OS's minutes), and the second never waited.
    assert 0.4 <= first < 5, first
    assert skipped < 0.2, skipped
    deadline = time.monotonic() + 5
    while not broker.broker_available():
        assert time.monotonic() < deadline, "the broker was never tried again"
        time.sleep(0.05)
    started = time.monotonic()
    assert broker.publish(3, queue="default", timeout=30) is False
    assert time.monotonic() - started >= 0.4, "after the retry interval the broker is tried again"


@pytest.mark.django_db
def test_submitting_a_job_while_the_broker_hangs_answers_202_quickly(
    hanging_broker, settings, alice, django_capture_on_commit_callbacks
):
    settings.JOBS_BROKER_RETRY_AFTER = 60.0
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=alice)[1]}")
    timings = []
    for _ in range(3):
        started = time.monotonic()
        # The commit (and so the publish) happens inside the request: the test's
        # transaction would hold it back.
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/jobs", {"kind": "diagnostics.noop"}, content_type="application/json")
        timings.append(time.monotonic() - started)
        assert response.status_code == 202, response.content
    assert Job.objects.filter(owner=alice, status=Status.QUEUED).count() == 3
    # The first request paid one broker timeout; the circuit spared the others.
    assert timings[0] < 5 and max(timings[1:]) < 0.5, timings
