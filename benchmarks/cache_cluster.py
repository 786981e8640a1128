"""What a Redis Cluster costs a cache hit: one Redis server against the cluster.

Usage (a cluster from scripts/redis_cluster.sh, a single Redis on a database of its own):

    scripts/redis_cluster.sh start
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python benchmarks/cache_cluster.py \\
        --cluster-url "$(scripts/redis_cluster.sh url)" [--ops 2000] [--rounds 5]

Each round times, in this process, --ops operations of each kind against either cache,
the two caches alternating round by round (a busy machine disturbs both alike), and the
medians over rounds are printed in microseconds per operation: wall time (the round trips
included) and this process's CPU time (the client's own work, which a busy machine
disturbs less):

- ``cached() hit``: apps.core.caching's hit, the MGET of a namespace's version and value
  (one slot on the cluster, thanks to the hash tag);
- ``get``: one key; ``get_many(20)``: 20 keys in 20 slots on the cluster (one MGET per
  slot there, one MGET on a single server);
- ``set``: one key with a TTL.

Keys live under a key prefix of the run's own and are deleted at the end.
"""

import argparse
import statistics
import sys
import time
import uuid

import in_process  # noqa: F401  (sets Django up)
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from apps.core import caching
from config.redis_cluster import cache_client_options, is_cluster_url


def caches_for(location: str, prefix: str) -> dict:
    configured = settings.CACHES["default"]
    options = {key: value for key, value in configured["OPTIONS"].items() if not key.startswith("CLUSTER_")}
    options.update(cache_client_options(location, failover_wait=settings.REDIS_CLUSTER_FAILOVER_WAIT))
    return {"default": {**configured, "LOCATION": location, "KEY_PREFIX": prefix, "OPTIONS": options}}


def one_round(ops: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU) microseconds per operation of each kind, against the current default cache."""
    caching.cached("benchcluster:hot", lambda: "x" * 2000, ttl=600, stale_ttl=600)
    keys = [f"bench:{index}" for index in range(20)]
    cache.set_many(dict.fromkeys(keys, "v" * 200), timeout=600)
    kinds = {
        "cached() hit": lambda: caching.cached("benchcluster:hot", lambda: "never", ttl=600, stale_ttl=600),
        "get": lambda: cache.get("bench:0"),
        "get_many(20)": lambda: cache.get_many(keys),
        "set": lambda: cache.set("bench:set", "v" * 200, timeout=600),
    }
    figures = {}
    for name, operation in kinds.items():
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(ops):
            operation()
        figures[name] = ((time.perf_counter() - started) / ops * 1e6, (time.process_time() - cpu) / ops * 1e6)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cluster-url", required=True, help="redis-cluster://host:port,...")
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not settings.REDIS_URL or is_cluster_url(settings.REDIS_URL):
        sys.exit("cache_cluster: set REDIS_URL to a single Redis (redis://127.0.0.1:6379/12)")
    if not is_cluster_url(args.cluster_url):
        sys.exit("cache_cluster: --cluster-url must be redis-cluster://host:port,...")
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    targets = {"single Redis": settings.REDIS_URL, "cluster": args.cluster_url}
    results: dict[str, list[dict[str, tuple[float, float]]]] = {name: [] for name in targets}
    try:
        for _ in range(args.rounds):
            for name, location in targets.items():
                with override_settings(CACHES=caches_for(location, prefix)):
                    results[name].append(one_round(args.ops))
    finally:
        for location in targets.values():
            with override_settings(CACHES=caches_for(location, prefix)):
                cache.delete_pattern("*")
    kinds = list(results["single Redis"][0])
    print(f"{args.rounds} alternating rounds of {args.ops} operations; medians, microseconds per operation")
    print(f"{'':<16}{'---------- wall ----------':>30}{'---------- CPU -----------':>30}")
    print(f"{'operation':<16}" + f"{'single Redis':>14}{'cluster':>10}{'ratio':>6}" * 2)
    for kind in kinds:
        line = f"{kind:<16}"
        for measure in (0, 1):
            single = statistics.median(row[kind][measure] for row in results["single Redis"])
            cluster = statistics.median(row[kind][measure] for row in results["cluster"])
            line += f"{single:>14.0f}{cluster:>10.0f}{cluster / single:>6.2f}"
        print(line)


if __name__ == "__main__":
    main()
