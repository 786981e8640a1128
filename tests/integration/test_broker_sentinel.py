"""The job broker behind Redis Sentinel: a failover of its primary loses no job and runs none twice.

Needs the local Sentinel set of scripts/redis_sentinel.sh (primary, replica, three
sentinels on loopback) named by TEMPO_TEST_REDIS_SENTINEL (its sentinels' host:port
list). The tests use its database 0, flushed first; the primary killed by a test comes
back (``redis_sentinel.sh start``: as a replica of the new primary) before the next one,
also when the test fails.

A failover loses what the old primary had not yet replicated; jobs published while no
primary answers are not in the broker at all. Both stay queued in the Job table, and
the dispatcher republishes them once their queue's list is empty. A message taken by a
worker on the old primary may still be in the new one: its second delivery claims
nothing. So every job ends succeeded with exactly one attempt.

With TEMPO_FAILOVER_FIGURES=<file> each failover appends its figures (seconds until
jobs flow again, jobs republished) to that file as a JSON line:
benchmarks/broker_failover.py runs these tests and prints them.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from django_q.conf import Conf
from redis.sentinel import Sentinel

from apps.jobs import broker, services
from apps.jobs.models import Job, JobAttempt, Status
from config.redis_sentinel import sentinel_config
from tests.conftest import missing
from tests.integration.test_jobs_processes import START, ended

pytestmark = pytest.mark.integration

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "redis_sentinel.sh"
MASTER = "tempo"
BROKER_CLASS = "apps.jobs.broker_sentinel.SentinelBroker"
# Jobs enqueued one after another while the primary goes away; the failover comes after
# FAILOVER_AT of them, so that some are published before, some while no primary answers
# and some after the promotion.
JOBS = 300
FAILOVER_AT = 80
ENQUEUE_PAUSE = 0.02
SETTLE = 90  # the set to be whole again (sentinels refresh what they know every 10 s)


class SentinelSet:
    """The test's view of scripts/redis_sentinel.sh's set: who is primary, and its process."""

    def __init__(self, url: str) -> None:
        self.config = sentinel_config(url)
        self.sentinel = Sentinel(list(self.config.sentinels), socket_timeout=1, socket_connect_timeout=1)

    def primary(self) -> tuple[str, int]:
        return self.sentinel.discover_master(MASTER)

    def primary_client(self) -> redis.Redis:
        return self.sentinel.master_for(MASTER, db=self.config.db, socket_timeout=2)

    def primary_pid(self) -> int:
        """The primary's PID, checked to be a local redis-server on that port."""
        host, port = self.primary()
        pid = int(redis.Redis(host=host, port=port, socket_timeout=2).info("server")["process_id"])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "redis-server" in cmdline and f":{port}" in cmdline, f"pid {pid} is not the primary: {cmdline}"
        return pid

    def script(self, command: str, *, timeout: float = SETTLE) -> subprocess.CompletedProcess:
        ports = " ".join(str(port) for _, port in self.config.sentinels)
        return subprocess.run(
            ["bash", str(SCRIPT), command],
            env={**os.environ, "SENTINEL_PORTS": ports, "MASTER_NAME": MASTER},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def restore(self) -> None:
        done = self.script("start")
        assert done.returncode == 0, f"redis_sentinel.sh start: {done.stdout}{done.stderr}"


@pytest.fixture
def sentinel_set(live, settings, monkeypatch):
    """The test process, its qcluster and dispatcher publish and pull through the sentinels."""
    addresses = os.environ.get("TEMPO_TEST_REDIS_SENTINEL", "")
    if not addresses:
        missing(
            "needs Redis Sentinel: start it with scripts/redis_sentinel.sh start and set "
            "TEMPO_TEST_REDIS_SENTINEL=127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382"
        )
    url = f"redis-sentinel://{addresses}/{MASTER}/0"
    the_set = SentinelSet(url)
    # A failed test may have left the set without its replica: whole again first.
    the_set.restore()
    the_set.primary_client().flushdb()
    settings.JOBS_BROKER_SENTINEL = the_set.config
    settings.JOBS_BROKER_RETRY_AFTER = 1.0
    monkeypatch.setattr(Conf, "BROKER_CLASS", BROKER_CLASS)
    monkeypatch.setattr(broker._local, "brokers", {}, raising=False)
    live.env.update(JOBS_BROKER_SENTINEL_URL=url, JOBS_BROKER_RETRY_AFTER="1")
    try:
        yield the_set
    finally:
        the_set.restore()


def all_succeeded(jobs: list[Job]):
    ids = [job.pk for job in jobs]
    return lambda: Job.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == len(ids)


def assert_each_ran_once(jobs: list[Job]) -> None:
    ids = [job.pk for job in jobs]
    rows = Job.objects.filter(pk__in=ids)
    assert {row.status for row in rows} == {Status.SUCCEEDED}
    assert sorted(set(rows.values_list("attempts", flat=True))) == [1]
    attempts = JobAttempt.objects.filter(job_id__in=ids)
    assert attempts.count() == len(ids)
    assert set(attempts.values_list("outcome", flat=True)) == {JobAttempt.Outcome.SUCCEEDED}


def deliveries(live, job: Job) -> int:
    """How many times the cluster's workers took the job's message (its log says each)."""
    log = (live.log_dir / "qcluster-default.log").read_text(errors="replace")
    return len(re.findall(rf"processing job-{job.pk} ", log))


def republished(live) -> int:
    log = (live.log_dir / "dispatcher.log").read_text(errors="replace")
    return log.count("republished job")


def enqueue_through(failover, *, at: int = FAILOVER_AT) -> tuple[list[Job], list[Job], float]:
    """JOBS jobs, one after another, calling ``failover()`` after ``at`` of them.
    Returns the jobs before it, those after it, and time.monotonic() when it happened."""
    before, after = [], []
    happened = 0.0
    for index in range(JOBS):
        if index == at:
            failover()
            happened = time.monotonic()
        (before if index < at else after).append(services.enqueue("diagnostics.noop"))
        time.sleep(ENQUEUE_PAUSE)
    return before, after, happened


def record_figures(**figures) -> None:
    path = os.environ.get("TEMPO_FAILOVER_FIGURES")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(figures) + "\n")


def flow_figures(live, after: list[Job], failed_over_at) -> dict:
    """When jobs enqueued after the failover started running again, and how many the
    dispatcher republished."""
    first_start = Job.objects.filter(pk__in=[j.pk for j in after]).order_by("started_at")[0].started_at
    latencies = [
        (job.finished_at - job.created_at).total_seconds()
        for job in Job.objects.filter(pk__in=[j.pk for j in after])
    ]
    return {
        "flow_again_s": round((first_start - failed_over_at).total_seconds(), 2),
        "max_latency_after_s": round(max(latencies), 2),
        "republished": republished(live),
    }


@pytest.fixture
def cluster(live, sentinel_set):
    """Two workers on the default queue and a dispatcher, on the Sentinel broker, warm."""
    process = live.start_workers(workers=2)
    live.start_dispatcher()
    warm = services.enqueue("diagnostics.noop")
    live.wait_for(ended(warm), timeout=START, what="the cluster to take a first job through the sentinels")
    warmed = Job.objects.get(pk=warm.pk)
    assert warmed.status == Status.SUCCEEDED, (warmed.error, live.logs())
    return process


def test_primary_killed_mid_stream_loses_no_job_and_runs_none_twice(live, sentinel_set, cluster):
    old_primary = sentinel_set.primary()
    killed = {}

    def kill_primary() -> None:
        pid = sentinel_set.primary_pid()
        killed["at"] = timezone.now()
        os.kill(pid, signal.SIGKILL)

    before, after, _ = enqueue_through(kill_primary)

    live.wait_for(
        all_succeeded(before + after), timeout=START * 2, what="every job to end after the failover"
    )
    new_primary = sentinel_set.primary()
    assert new_primary != old_primary, "the sentinels did not promote the replica"
    assert_each_ran_once(before + after)
    # The cluster that started on the old primary ran the jobs enqueued after the
    # promotion: it reconnected rather than being restarted (wait_for fails if it exits).
    assert cluster.poll() is None
    workers = set(Job.objects.filter(pk__in=[j.pk for j in after]).values_list("worker", flat=True))
    assert all(live.owns(int(worker.rsplit(":", 1)[1])) for worker in workers), workers
    assert sentinel_set.primary_client().ping()
    record_figures(failover="kill", **flow_figures(live, after, killed["at"]))


def test_planned_failover_mid_stream_loses_no_job_and_runs_none_twice(live, sentinel_set, cluster):
    old_primary = sentinel_set.primary()
    switch: dict = {}

    def planned_failover() -> None:
        # The script waits for the set to settle (seconds): it runs beside the enqueues.
        switch["at"] = timezone.now()
        switch["thread"] = threading.Thread(
            target=lambda: switch.update(done=sentinel_set.script("failover"))
        )
        switch["thread"].start()

    before, after, _ = enqueue_through(planned_failover)

    live.wait_for(
        all_succeeded(before + after), timeout=START * 2, what="every job to end after the failover"
    )
    switch["thread"].join(timeout=SETTLE)
    assert switch["done"].returncode == 0, switch["done"].stdout + switch["done"].stderr
    assert sentinel_set.primary() != old_primary
    assert_each_ran_once(before + after)
    assert cluster.poll() is None
    record_figures(failover="planned", **flow_figures(live, after, switch["at"]))


def test_a_message_delivered_twice_runs_once(live, sentinel_set, cluster):
    job = services.enqueue("diagnostics.sleep", params={"seconds": 0.5, "steps": 1})
    # What a republish of a message the broker still held amounts to.
    assert broker.publish(job.pk, queue=job.queue, timeout=job.timeout)

    done = live.wait_for(ended(job), timeout=START, what="the job to end")
    live.wait_for(lambda: deliveries(live, job) == 2, timeout=START, what="the second delivery to be taken")

    assert done.status == Status.SUCCEEDED
    assert Job.objects.get(pk=job.pk).attempts == 1
    assert JobAttempt.objects.filter(job=job).count() == 1
