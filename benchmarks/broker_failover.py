"""What a failover of the job broker's Redis primary costs, behind Redis Sentinel.

Usage (PostgreSQL, Redis for the cache, and the local Sentinel set):

    scripts/redis_sentinel.sh start
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo_bench \\
    REDIS_URL=redis://127.0.0.1:6379/10 \\
    TEMPO_TEST_REDIS_SENTINEL=127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382 \\
    .venv/bin/python benchmarks/broker_failover.py [--runs 3]

Each run is tests/integration/test_broker_sentinel.py's two failover tests: a qcluster
(two workers) and a dispatcher on the Sentinel broker; 300 `diagnostics.noop` jobs
enqueued one every ~20 ms; after 80 of them the primary is killed (SIGKILL) or switched
(SENTINEL FAILOVER). The tests assert that every job succeeded with exactly one attempt;
this prints, per kind of failover, the medians over the runs of:

- flow again: from the failover to the first start of a job enqueued after it (a kill:
  the sentinels' down-after-milliseconds, their vote, the promotion, and the publishers'
  circuit, JOBS_BROKER_RETRY_AFTER=1 s in the tests);
- worst latency: the longest enqueue -> finish among the jobs enqueued after it;
- republished: messages the dispatcher published again from the Job table (jobs whose
  publish found no primary, and those the old primary had not replicated).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = "tests/integration/test_broker_sentinel.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of both failovers (default 3)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 50:
        parser.error("--runs must be between 1 and 50")
    for name in ("DATABASE_URL", "REDIS_URL", "TEMPO_TEST_REDIS_SENTINEL"):
        if not os.environ.get(name):
            parser.error(f"{name} is not set (see the usage above)")
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as figures:
        env = {
            **os.environ,
            "TEMPO_FAILOVER_FIGURES": figures.name,
            "TEMPO_REQUIRE_SERVICES": "1",
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-secret-key-not-for-production"),
        }
        for run in range(1, args.runs + 1):
            print(f"run {run}/{args.runs} ...", flush=True)
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", TESTS, "-k", "mid_stream"],
                cwd=ROOT,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                print(f"run {run} failed: a failover lost or repeated a job, or could not be measured")
                return 1
        rows = [json.loads(line) for line in figures.read().splitlines() if line]
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row.pop("failover")].append(row)
    header = f"{'failover':<10}{'runs':>5}{'flow again s':>14}{'worst latency s':>17}{'republished':>13}"
    print(f"\n{header}  jobs lost")
    for kind, runs in sorted(by_kind.items()):
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        print(
            f"{kind:<10}{len(runs):>5}{median['flow_again_s']:>14.2f}{median['max_latency_after_s']:>17.2f}"
            f"{median['republished']:>13.0f}  0 (asserted)"
        )
        print(f"{'':<10}each run: " + "; ".join(json.dumps(run) for run in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
