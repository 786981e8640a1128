"""Fixtures for the notifications tests: real receivers on loopback, faked name resolution,
and jobs run inline (the guard that fails any connection outside loopback, ``loopback_only``,
is in tests/conftest.py)."""

import http.server
import ipaddress
import json
import socket
import threading

import pytest
from django.core.cache import cache

from apps.jobs import runner, services
from apps.jobs.models import Job, JobAttempt, Status
from apps.notifications import services as notifications
from apps.notifications.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The bell is cached per user id; ids repeat across tests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def quiet_heartbeat(settings):
    settings.JOBS_HEARTBEAT_INTERVAL = 60
    settings.JOBS_HEARTBEAT_STALE_AFTER = 180


@pytest.fixture
def allow_private(settings):
    """Tests deliver to receivers on loopback."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def run_job(job: Job) -> Job:
    """Run a queued job inline, as a worker would; returns it reloaded."""
    runner.execute(job.pk)
    return Job.objects.get(pk=job.pk)


def run_until_final(job: Job, *, limit: int = 10) -> Job:
    """Run a job and each retry (due at once, as the dispatcher would at its run_at)."""
    job = run_job(job)
    for _ in range(limit):
        if job.status != Status.FAILED:
            return job
        assert services.jobs_publish_due(now=job.run_at) == 1
        job = run_job(job)
    raise AssertionError(f"job {job.uuid} still {job.status} after {limit} runs")


def finished_noop(owner, **kwargs) -> Job:
    """A job of ``owner`` that ran and succeeded (its job_finished has been sent)."""
    job = run_job(services.enqueue("diagnostics.noop", owner=owner, **kwargs))
    assert job.status == Status.SUCCEEDED
    return job


def retry_delays(job: Job) -> list[float]:
    return [
        attempt.retry_delay
        for attempt in JobAttempt.objects.filter(job=job).order_by("number")
        if attempt.retry_delay is not None
    ]


@pytest.fixture
def endpoint(alice, allow_private) -> WebhookEndpoint:
    """Alice's endpoint on a loopback port nothing listens on (its deliveries are records)."""
    return notifications.webhook_endpoint_create(owner=alice, url="http://127.0.0.1:9/hook")


def delivery_recorded(endpoint: WebhookEndpoint, *, message_id: str = "m", **fields) -> WebhookDelivery:
    """A delivery row of a ``job.dead`` event to ``endpoint``, without a job."""
    return WebhookDelivery.objects.create(
        owner=endpoint.owner,
        endpoint=endpoint,
        url=endpoint.url,
        event="job.dead",
        message_id=message_id,
        payload={},
        **fields,
    )


class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread: records each request, answers from a script."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                answer = json.dumps({"received": True, "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def set(self, *statuses: int) -> None:
        self.statuses = list(statuses)


@pytest.fixture
def receiver():
    """``receiver(200)`` or ``receiver(500, 500, 200)``; servers stop after the test."""
    started: list[Receiver] = []

    def start(*statuses: int) -> Receiver:
        server = Receiver(list(statuses) or [200])
        server.thread.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=10)


@pytest.fixture
def fake_dns(monkeypatch):
    """``fake_dns({"hooks.example": ["10.0.0.5"]})``: those names resolve to those addresses
    (each lookup records its name); IP addresses are parsed as they are, and looking up any
    other name fails the test (no query leaves the machine)."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if isinstance(host, bytes):
            host = host.decode()
        if host in table:
            lookups.append(host)
            results = []
            for address in table[host]:
                ip = ipaddress.ip_address(address)
                if ip.version == 6:
                    results.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0)))
                else:
                    results.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0)))
            return results
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pytest.fail(f"unexpected name lookup of {host!r}: give it to fake_dns()")
        # An address (socket.create_connection looks its own up): parsed, never sent out.
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def configure(mapping: dict[str, list[str]]) -> list[str]:
        table.clear()
        table.update(mapping)
        return lookups

    return configure
