"""What the cache's circuit breaker costs, and what it saves while Redis is down.

    REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python benchmarks/cache_circuit.py [--ops N] [--rounds N]

1. A cache hit (GET of a small value) through django-redis's ``RedisCache`` and through
   ``apps.core.redis_cache.ResilientRedisCache`` on the same Redis, in alternating
   rounds (the machine is shared: the median of the rounds is printed per backend).
2. An operation while Redis is down (a port nothing listens on): the first one pays the
   refused connection and opens the circuit; the others answer without trying Redis.
   For comparison, plain ``RedisCache`` with ``IGNORE_EXCEPTIONS`` tries every time.
"""

import argparse
import os
import statistics
import sys
import time

import in_process  # noqa: F401  (Django set up)
from django_redis.cache import RedisCache

from apps.core.redis_cache import ResilientRedisCache
from apps.core.signals import circuit_changed

DEAD = "redis://127.0.0.1:6399/0"


def params(**options) -> dict:
    return {
        "KEY_PREFIX": "bench-circuit",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5, **options},
    }


def per_op_us(backend, ops: int) -> float:
    get = backend.get
    started = time.perf_counter()
    for _ in range(ops):
        get("bench-key")
    return (time.perf_counter() - started) / ops * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if not url:
        sys.exit("set REDIS_URL (a Redis database this may write one key to)")

    plain = RedisCache(url, params())
    guarded = ResilientRedisCache(url, params(RETRY_AFTER=5))
    plain.set("bench-key", "x" * 100, timeout=600)
    timings: dict[str, list[float]] = {"RedisCache": [], "ResilientRedisCache": []}
    for _ in range(args.rounds):
        timings["RedisCache"].append(per_op_us(plain, args.ops))
        timings["ResilientRedisCache"].append(per_op_us(guarded, args.ops))
    plain.delete("bench-key")
    print(f"cache hit, {args.rounds} alternating rounds of {args.ops} GETs (median µs per GET):")
    for name, values in timings.items():
        rounds = ", ".join(f"{value:.1f}" for value in values)
        print(f"  {name:<20} {statistics.median(values):7.1f}  (rounds: {rounds})")
    ratio = statistics.median(timings["ResilientRedisCache"]) / statistics.median(timings["RedisCache"])
    print(f"  ratio {ratio:.3f}")

    down_ops = 1000
    # Measured without a database: the opening is not recorded for the overview.
    circuit_changed.disconnect(dispatch_uid="monitoring.circuit_changed")
    dead = ResilientRedisCache(DEAD, params(RETRY_AFTER=60))
    started = time.perf_counter()
    dead.get("k")
    first_ms = (time.perf_counter() - started) * 1e3
    open_us = per_op_us(dead, down_ops)
    ignoring = RedisCache(DEAD, params(IGNORE_EXCEPTIONS=True))
    ignoring_us = per_op_us(ignoring, down_ops)
    print(f"Redis down ({DEAD}, connection refused), {down_ops} GETs:")
    print(
        f"  ResilientRedisCache: first {first_ms:.2f} ms (opens the circuit), then {open_us:.1f} µs per GET"
    )
    print(f"  RedisCache with IGNORE_EXCEPTIONS: {ignoring_us:.1f} µs per GET (tries Redis every time)")


if __name__ == "__main__":
    main()
