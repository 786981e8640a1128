"""The cache on a Redis Cluster: a django-redis client class (``OPTIONS["CLIENT_CLASS"]``).

django-redis 7 has no cluster client (several LOCATIONs mean a master and its read
replicas to it) and Django's own RedisCache builds plain ``redis.Redis`` clients; redis-py's
``RedisCluster`` does the cluster's work (the slot map, MOVED/ASK redirections, a new map
after a failover). This client hands django-redis one ``RedisCluster`` per process, built
from the options ``config.redis_cluster.cache_client_options`` derives from REDIS_CACHE_URL,
and adapts what differs on a cluster. Being a client class, it combines with any backend
built on django-redis's ``RedisCache`` (the circuit breaker of ``apps.core.redis_cache``).

- Failover: a command that meets a master being replaced (connection refused, CLUSTERDOWN,
  an uncovered slot) is tried again, on a fresh slot map, with a growing pause, for up to
  ``CLUSTER_FAILOVER_WAIT`` seconds. RedisCluster's own retries follow each other at once
  and are spent long before a replica is promoted (the cluster's node timeout plus about a
  second). When no node answers at all, RedisCluster raises at once and nothing waits: the
  backend's circuit then answers misses.
- Multi-key commands: a cluster refuses one whose keys live in different hash slots
  (CROSSSLOT). Keys that share a hash tag share a slot (``cache:{commerce}:…``,
  apps.core.caching): ``get_many`` and ``delete_many`` of one slot are one MGET / DEL,
  waited through a failover like any command, so a namespace's version and value still
  come in one round trip. Keys of several slots go as redis-py's pipeline of one MGET / DEL
  per slot (a round trip per node, retried by RedisCluster but not waited for: such reads
  are statistics and clean-ups). ``set_many`` is one SET per key. None of these is atomic
  across slots, which no caller here needs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Iterable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.exceptions import ImproperlyConfigured
from django_redis.client import DefaultClient
from django_redis.client.default import _main_exceptions
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterDownError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

# What a master's failover looks like to a client; other errors are raised at once.
FAILOVER_ERRORS = (RedisConnectionError, RedisTimeoutError, ClusterDownError, SlotNotCoveredError)
# RedisCluster's immediate retries of a command (each after a new slot map) before a pause.
IMMEDIATE_RETRIES = 2
FIRST_PAUSE = 0.05
MAX_PAUSE = 0.5


class FailoverWaitingCluster(RedisCluster):
    """``RedisCluster`` whose commands wait up to ``failover_wait`` seconds for a failover."""

    def __init__(self, *args: Any, failover_wait: float = 0.0, **kwargs: Any) -> None:
        self.failover_wait = failover_wait  # the constructor already sends commands
        super().__init__(*args, **kwargs)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + self.failover_wait
        pause = FIRST_PAUSE
        while True:
            try:
                return super().execute_command(*args, **kwargs)
            except FAILOVER_ERRORS:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)


_clusters: dict[tuple, tuple[int, FailoverWaitingCluster]] = {}
_clusters_lock = threading.Lock()


def cluster_client(options: dict[str, Any]) -> FailoverWaitingCluster:
    """The process's client for the cluster these options name (built on first use).

    Shared by the process's threads, as django-redis shares its connection pools: Django
    makes a cache backend per thread, and each RedisCluster keeps a pool per node and its
    own slot map. A forked process builds its own (a copied lock could be held).
    """
    nodes = options.get("CLUSTER_NODES")
    if not nodes:
        raise ImproperlyConfigured(
            "ClusterClient needs OPTIONS['CLUSTER_NODES']: build OPTIONS with "
            "config.redis_cluster.cache_client_options(REDIS_CACHE_URL, ...)"
        )
    kwargs: dict[str, Any] = {
        "socket_timeout": options.get("SOCKET_TIMEOUT"),
        "socket_connect_timeout": options.get("SOCKET_CONNECT_TIMEOUT"),
        "username": options.get("USERNAME"),
        "password": options.get("PASSWORD"),
        "ssl": bool(options.get("CLUSTER_SSL", False)),
        "failover_wait": float(options.get("CLUSTER_FAILOVER_WAIT", 0.0)),
    }
    key = (tuple(tuple(node) for node in nodes), *sorted(kwargs.items()))
    pid = os.getpid()
    with _clusters_lock:
        owner, client = _clusters.get(key, (None, None))
        if client is None or owner != pid:
            client = FailoverWaitingCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in nodes],
                # A slot map with a hole (a master just failed) is still a map to use.
                require_full_coverage=False,
                retry=Retry(NoBackoff(), IMMEDIATE_RETRIES),
                **kwargs,
            )
            _clusters[key] = (pid, client)
        return client


class ClusterClient(DefaultClient):
    """django-redis's client on a Redis Cluster (see the module docstring)."""

    def __init__(self, server: Any, params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        # One cluster, however many seeds LOCATION lists: DefaultClient would take the
        # second and later ones for read replicas.
        self._server = [",".join(self._server)]
        self._clients = [None]

    def connect(self, index: int = 0) -> Any:
        return cluster_client(self._options)

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        client = client if client is not None else self._clients[index]
        if client is not None:
            client.disconnect_connection_pools()

    @staticmethod
    def _one_slot(client: RedisCluster, keys: Collection[Any]) -> bool:
        return len({client.keyslot(key) for key in keys}) == 1

    def get_many(self, keys: Collection[Any], version: int | None = None, client: Any = None) -> dict:
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        originals = {self.make_key(key, version=version): key for key in keys}
        made = list(originals)
        try:
            values = client.mget(made) if self._one_slot(client, made) else client.mget_nonatomic(made)
        except _main_exceptions as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return {
            originals[key]: self.decode(value)
            for key, value in zip(made, values, strict=True)
            if value is not None
        }

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
        client: Any = None,
    ) -> None:
        for key, value in data.items():
            self.set(key, value, timeout, version=version, client=client)

    def delete_many(self, keys: Iterable[Any], version: int | None = None, client: Any = None) -> int:
        if client is None:
            client = self.get_client(write=True)
        made = [self.make_key(key, version=version) for key in keys]
        if not made:
            return 0
        try:
            if self._one_slot(client, made):
                return client.execute_command("DEL", *made)
            return client.delete(*made)
        except _main_exceptions as exc:
            raise ConnectionInterrupted(connection=client) from exc
