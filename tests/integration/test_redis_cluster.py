"""The cache on a real Redis Cluster (scripts/redis_cluster.sh): the caching tests again, and
a master killed under load.

TEMPO_TEST_REDIS_CLUSTER_URL names the cluster (``redis-cluster://127.0.0.1:7000,...``, as
``scripts/redis_cluster.sh url`` prints it). Each test keeps its keys under a key prefix of
its own and deletes them afterwards. The failover test kills a master by the PID the script
wrote and ends by handing the master role back, so the cluster is left as it was found.
"""

import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test.utils import override_settings

from apps.core import caching
from apps.core.redis_cluster import ClusterClient, cluster_client
from apps.core.services import api_token_create
from config.redis_cluster import cache_client_options
from tests.commerce.test_api import commerce_world
from tests.conftest import missing

# The caching tests, collected here too: the autouse fixture below puts them on the cluster.
from tests.core.test_caching import *  # noqa: F403

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "redis_cluster.sh"
HOW = (
    "start one with scripts/redis_cluster.sh start and set "
    "TEMPO_TEST_REDIS_CLUSTER_URL=$(scripts/redis_cluster.sh url)"
)


def cluster_url() -> str:
    url = os.environ.get("TEMPO_TEST_REDIS_CLUSTER_URL", "")
    if not url:
        missing(f"needs a Redis Cluster: {HOW}")
    if not settings.REDIS_URL:
        missing("needs Redis too (REDIS_URL): the processes' broker and metrics stay on it")
    return url


def raw_cluster(url: str):
    """The process's RedisCluster for ``url`` (shared: not to be closed)."""
    return cluster_client(cache_client_options(url, failover_wait=0))


def cluster_caches(url: str, prefix: str) -> dict:
    """CACHES with the default cache on the cluster, the backend and timeouts as configured."""
    configured = settings.CACHES["default"]
    options = {key: value for key, value in configured.get("OPTIONS", {}).items() if key != "CLIENT_CLASS"}
    return {
        "default": {
            **configured,
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {
                **options,
                **cache_client_options(url, failover_wait=settings.REDIS_CLUSTER_FAILOVER_WAIT),
            },
        }
    }


@pytest.fixture(autouse=True)
def on_the_cluster():
    """This module's default cache is the cluster, under a key prefix of the test's own."""
    url = cluster_url()
    prefix = f"t{uuid.uuid4().hex[:10]}"
    with override_settings(CACHES=cluster_caches(url, prefix)):
        client = cache.client
        assert isinstance(getattr(client, "_client", client), ClusterClient)  # under a circuit or not
        reset = getattr(cache, "reset", None)
        if reset:
            reset()  # a circuit opened by an earlier test's outage
        try:
            yield {"url": url, "prefix": prefix}
        finally:
            cache.delete_pattern("*")


def test_the_cache_spreads_over_the_masters_and_a_namespace_stays_in_one_slot(on_the_cluster):
    for index in range(60):
        cache.set(f"spread:{index}", index, timeout=60)
    caching.namespace_bump("spreadtest")
    assert caching.cached("spreadtest:a", lambda: "A", ttl=60, stale_ttl=60) == "A"
    raw = raw_cluster(on_the_cluster["url"])
    masters = raw.get_primaries()
    prefix = on_the_cluster["prefix"]
    held = {node.name: len(list(raw.scan_iter(f"{prefix}:*", target_nodes=node))) for node in masters}
    assert len(masters) >= 3
    assert all(count > 0 for count in held.values()), held
    caching.stats.flush()
    tagged = list(raw.scan_iter(f"{prefix}:*{{spreadtest}}*"))
    assert len(tagged) >= 3  # the version, the value, a counter
    # All in one slot: that of the hash tag alone.
    assert {raw.keyslot(key) for key in tagged} == {raw.keyslot("{spreadtest}")}


def test_many_keys_across_slots_are_read_written_and_deleted_together():
    data = {f"many:{index}": {"n": index} for index in range(40)}
    cache.set_many(data, timeout=60)
    assert cache.get_many([*data, "many:absent"]) == data
    assert cache.delete_many(list(data)[:10]) == 10
    assert len(cache.get_many(list(data))) == 30


# --- A master killed under load --------------------------------------------------------------


def script(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"redis_cluster.sh {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def roles(url: str) -> dict[int, str]:
    """Port -> "master" / "replica", from CLUSTER NODES of the first seed."""
    host, port = url.removeprefix("redis-cluster://").split(",")[0].rsplit(":", 1)
    out = subprocess.run(
        ["redis-cli", "-h", host, "-p", port, "cluster", "nodes"], capture_output=True, text=True, check=True
    ).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if "fail" in fields[2].split(","):
            continue
        node_port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
        found[node_port] = "master" if "master" in fields[2] else "replica"
    return found


class Load:
    """Threads that request ``urls`` over and over; every answer but a 200 or 304 is a failure."""

    def __init__(self, base_url: str, urls: list[tuple[str, dict]], threads: int = 4) -> None:
        self.base_url = base_url
        self.urls = urls
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.done: list[tuple[float, float]] = []  # (started, ended) of each answered request
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._loop, args=(index,)) for index in range(threads)]

    def _loop(self, index: int) -> None:
        turn = index
        while not self.stop.is_set():
            path, headers = self.urls[turn % len(self.urls)]
            turn += 1
            started = time.monotonic()
            try:
                request = urllib.request.Request(self.base_url + path, headers=headers)  # noqa: S310
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except Exception as exc:
                with self.lock:
                    self.failures.append(f"{path}: {exc!r}")
                continue
            with self.lock:
                if status in (200, 304):
                    self.done.append((started, time.monotonic()))
                else:
                    self.failures.append(f"{path}: {status}")

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_a_master_killed_under_load_fails_no_request(live, on_the_cluster, alice, client):
    url = on_the_cluster["url"]
    if subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, check=False).returncode != 0:
        missing(f"the failover test kills a node that scripts/redis_cluster.sh started and runs: {HOW}")
    commerce_world()
    _, token = api_token_create(user=alice)
    client.force_login(alice)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    api = {"Authorization": f"Bearer {token}"}
    page = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    urls = [
        *((f"/api/commerce/orders/{order}", api) for order in range(1, 10)),
        ("/api/commerce/customers/1", api),
        ("/api/commerce/orders", api),
        ("/orders/1/", page),
        ("/orders/", page),
    ]
    base_url = live.start_gunicorn(
        REDIS_CACHE_URL=url, CACHE_KEY_PREFIX=on_the_cluster["prefix"], GUNICORN_THREADS=2, DEBUG_TOOLBAR=0
    )

    # The master that holds the commerce namespace (its version and values): the hot keys.
    raw = raw_cluster(url)
    raw.nodes_manager.initialize()  # the slot map as it is now, not as an earlier test left it
    victim = raw.get_node_from_key("{commerce}").port
    before = roles(url)
    assert before[victim] == "master"
    try:
        with Load(base_url, urls) as load:
            live.wait_for(lambda: len(load.done) >= 50, timeout=60, what="50 answered requests")
            killed_at = time.monotonic()
            out = script("failover", str(victim))
            took = float(re.search(r"took over from \S+ in ([0-9.]+) s", out).group(1))
            recovered = len(load.done)
            live.wait_for(lambda: len(load.done) >= recovered + 50, timeout=60, what="50 more answers")
        # Every node learns the new roles by gossip, the seed asked here maybe a moment later.
        after = live.wait_for(
            lambda: (found := roles(url)).get(victim) == "replica" and found, timeout=10, what="the new roles"
        )
        promoted = [
            port for port, role in after.items() if role == "master" and before.get(port) == "replica"
        ]
        assert len(promoted) == 1, (before, after)
        assert load.failures == [], load.failures[:20]
        during = [ended for started, ended in load.done if killed_at <= started <= killed_at + took]
        assert during, "no request was answered while the master was down"
        slowest = max(
            ended - started for started, ended in load.done if killed_at <= started <= killed_at + took
        )
        # Figures for the README (shown with pytest -s), never asserted on.
        print(
            f"\nfailover of 127.0.0.1:{victim}: replica promoted after {took:.1f} s; "
            f"{len(load.done)} requests answered, {len(during)} of them started while the master was "
            f"down (slowest {slowest:.2f} s), "
            f"{len(load.failures)} failed"
        )
    finally:
        script("promote", str(victim))
    live.wait_for(lambda: roles(url) == before, timeout=10, what="the roles from before the test")
