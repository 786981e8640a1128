"""Redis dies under a real gunicorn, qcluster and dispatcher: nobody notices but the operators.

A redis-server of this test's own (127.0.0.1:6390-6399, no persistence) is the only Redis
of every process (cache, sessions through ``cached_db``, the broker, metrics). Clients keep
logging in, loading a logged-in page, reading the jobs API with a token and with the
session, and submitting jobs, while the test kills that Redis (SIGKILL, by PID), keeps it
down for ~10 s and starts it again on the same port. Not one request may fail; every job
submitted runs exactly once; and the outage is recorded for the performance overview.
"""

import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import requests

from apps.core.services import api_token_create
from apps.jobs.models import Job, Status
from apps.monitoring.models import RedisOutage
from apps.monitoring.selectors.outages import redis_outages
from tests.conftest import PASSWORD
from tests.integration.test_faults import RedisServer
from tests.integration.test_jobs_processes import START

pytestmark = pytest.mark.integration

PORTS = range(6390, 6400)
WINDOW = timedelta(hours=1)
OUTAGE_SECONDS = 10.0
REQUEST_TIMEOUT = 15.0


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def own_redis(tmp_path):
    port = next((port for port in PORTS if port_free(port)), None)
    if port is None:
        pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1} for this test's redis-server")
    server = RedisServer(port, tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def log_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=REQUEST_TIMEOUT)
    page.raise_for_status()
    answer = session.post(
        f"{base}/accounts/login/",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    if answer.status_code != 302:
        raise AssertionError(f"login answered {answer.status_code}")
    return session


@dataclass
class Traffic:
    """Request loops in a thread; every failure is kept with what was asked and when."""

    base: str
    token: str
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def check(self, what: str, call, expected: int) -> requests.Response | None:
        self.sent += 1
        try:
            response = call()
        except requests.RequestException as exc:
            self.failures.append(f"{time.strftime('%X')} {what}: {exc}")
            return None
        if response.status_code != expected:
            self.failures.append(
                f"{time.strftime('%X')} {what}: {response.status_code} {response.text[:200]}"
            )
            return None
        return response

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:
            self.failures.append(f"{time.strftime('%X')} the loop ended: {exc!r}")
            self.stop.set()

    def _loop(self) -> None:
        bearer = {"Authorization": f"Bearer {self.token}"}
        session = log_in(self.base)
        cycle = 0
        while not self.stop.is_set():
            cycle += 1
            if cycle % 5 == 0:
                try:
                    session = log_in(self.base)
                    self.sent += 2
                except Exception as exc:
                    self.failures.append(f"{time.strftime('%X')} login: {exc}")
            self.check(
                "logged-in page",
                lambda s=session: s.get(f"{self.base}/jobs/", allow_redirects=False, timeout=REQUEST_TIMEOUT),
                200,
            )
            self.check(
                "API with the session",
                lambda s=session: s.get(f"{self.base}/api/jobs", timeout=REQUEST_TIMEOUT),
                200,
            )
            self.check(
                "API with the token",
                lambda: requests.get(f"{self.base}/api/jobs", headers=bearer, timeout=REQUEST_TIMEOUT),
                200,
            )
            submitted = self.check(
                "submit",
                lambda: requests.post(
                    f"{self.base}/api/jobs",
                    json={"kind": "diagnostics.noop"},
                    headers=bearer,
                    timeout=REQUEST_TIMEOUT,
                ),
                202,
            )
            if submitted is not None:
                self.submitted.append(submitted.json()["id"])
            time.sleep(0.3)


def test_redis_killed_and_restarted_fails_no_request_and_runs_every_job_once(
    own_redis, live, alice, settings
):
    # own_redis first: it stops after the processes, which never see it die at the end.
    # The servers check passwords with the project's hashers, not the suite's fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    alice.set_password(PASSWORD)
    alice.save(update_fields=["password"])
    env = {
        "REDIS_URL": own_redis.url,
        "CACHE_RETRY_AFTER": "1",
        "JOBS_BROKER_RETRY_AFTER": "1",
        # Sessions in the database behind Redis (the store that must fall back).
        "SESSION_SIGNED_COOKIE": "0",
        # Jobs pile up while Redis is down: no per-user quota refuses them.
        "JOBS_USER_MAX_ACTIVE": "0",
        "MONITORING_FLUSH_INTERVAL": "1",
        # Plain HTTP on loopback: the client must get its cookies back.
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
    }
    live.start("qcluster-default", "qcluster", Q_CLUSTER_NAME="default", JOBS_WORKERS_DEFAULT=2, **env)
    live.start("dispatcher", "jobs_dispatcher", **env)
    base = live.start_gunicorn(**env)
    traffic = Traffic(base=base, token=api_token_create(user=alice)[1])
    loops = threading.Thread(target=traffic.run, name="traffic")
    loops.start()
    try:
        live.wait_for(
            lambda: len(traffic.submitted) >= 3 or traffic.stop.is_set(),
            timeout=START,
            what="traffic before the outage",
        )
        assert not traffic.stop.is_set(), traffic.failures
        before = traffic.sent
        killed_at = time.time()
        own_redis.kill()
        time.sleep(OUTAGE_SECONDS)
        during = traffic.sent - before
        own_redis.start()
        restarted_at = time.time()
        # Past the circuits' intervals: every process has met Redis again.
        time.sleep(5)
    finally:
        traffic.stop.set()
        loops.join(timeout=60)

    assert traffic.failures == [], f"{len(traffic.failures)} of {traffic.sent} failed\n{live.logs()}"
    assert during >= 20, f"only {during} requests while Redis was down"
    submitted = set(traffic.submitted)
    jobs = Job.objects.filter(uuid__in=submitted)
    live.wait_for(
        lambda: jobs.filter(status=Status.SUCCEEDED).count() == len(submitted),
        timeout=START,
        what=f"the {len(submitted)} jobs submitted around the outage to succeed",
    )
    assert set(jobs.values_list("attempts", flat=True)) == {1}, "a job ran more than once"
    assert jobs.count() == len(submitted)
    print(f"\n{traffic.sent} requests, {during} with Redis down, 0 failed; {len(submitted)} jobs ran once")

    # Recorded for the performance overview: the web workers' cache and the broker.
    rows = RedisOutage.objects.filter(started_at__gte=_at(killed_at - 1))
    assert {"cache", "broker"} <= set(rows.values_list("component", flat=True)), list(rows.values())
    assert not rows.filter(ended_at__isnull=True).exists(), "an outage was never closed"
    (outage,) = [o for o in redis_outages(window=WINDOW) if o.started_at >= _at(killed_at - 1)]
    assert outage.ended_at is not None
    assert _at(killed_at) <= outage.started_at <= _at(restarted_at)
    assert outage.ended_at >= _at(restarted_at)
    assert {"cache", "broker"} <= outage.components
