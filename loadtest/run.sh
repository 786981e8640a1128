#!/usr/bin/env bash
# `make loadtest USERS=200 DURATION=60s`: Locust headless against the load-balanced
# setup (deploy/lb.sh, as `make lb`), twice:
#   1. "optimized": caching and replica routing on (the local replica of
#      scripts/pg_replica.sh is used when it runs on 127.0.0.1:5433),
#   2. "baseline":  CACHE_ENABLED=0 REPLICA_ROUTING_ENABLED=0,
# with the CPU time of the server processes (gunicorn, nginx) read from /proc before and
# after each run. loadtest/check_slo.py then writes loadtest/results/<stamp>/report.md.
#   LOADTEST_MODES="optimized baseline" (or one of them), SPAWN_RATE (USERS/10 per second)
#   STEPS="100,200,300,400" (with STEP_SECONDS, 30): after the fixed run, a capacity search
#   on the same servers: the most users each mode serves with p95 under the objective.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-200}
DURATION=${DURATION:-60s}
SPAWN_RATE=${SPAWN_RATE:-$(( USERS / 10 > 1 ? USERS / 10 : 1 ))}
MODES=${LOADTEST_MODES:-"optimized baseline"}
STEPS=${STEPS:-}
STEP_SECONDS=${STEP_SECONDS:-30}
LB_PORT=${LB_PORT:-8080}
PYTHON=.venv/bin/python
STAMP=$(date +%Y%m%d-%H%M%S)
OUT="loadtest/results/$STAMP-u$USERS"
mkdir -p "$OUT"

# One key for the prepared sessions and the servers that check them (lb.sh would make up
# its own, and every prepared session would then be refused as tampered with).
export SECRET_KEY=${SECRET_KEY:-$($PYTHON -c 'import secrets; print(secrets.token_urlsafe(50))')}
echo "loadtest: preparing accounts, ids and static files"
DEBUG=0 $PYTHON manage.py collectstatic --no-input -v0
$PYTHON loadtest/prepare.py >"$OUT/fixtures.json"

replica_url=""
if pg_isready -h 127.0.0.1 -p 5433 -q 2>/dev/null && [[ "${DATABASE_URL:-}" == postgres* ]]; then
    replica_url="postgres://postgres@127.0.0.1:5433/${DATABASE_URL##*/}"
fi

# CPU seconds (user + system, finished children included) of every process in the
# process groups of the run directory's pids file.
cpu_seconds() {
    $PYTHON - "$1" <<'PY'
import os, sys
groups = {int(line) for line in open(sys.argv[1]) if line.strip()}
ticks = os.sysconf("SC_CLK_TCK")
total = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    # fields[2] is the process group; 11..14 utime stime cutime cstime (stat(5), minus 2).
    if int(fields[2]) in groups:
        total += sum(int(value) for value in fields[11:15])
print(total / ticks)
PY
}

lb_pid=""
stop_lb() {
    if [ -n "$lb_pid" ]; then
        kill -TERM "$lb_pid" 2>/dev/null || true
        wait "$lb_pid" 2>/dev/null || true
        lb_pid=""
    fi
}
trap stop_lb EXIT INT TERM

for mode in $MODES; do
    run_dir="$OUT/$mode-lb"
    mkdir -p "$run_dir"
    if [ "$mode" = baseline ]; then
        flags=(CACHE_ENABLED=0 REPLICA_ROUTING_ENABLED=0 DATABASE_REPLICA_URLS=)
    else
        flags=(CACHE_ENABLED=1 REPLICA_ROUTING_ENABLED=1 "DATABASE_REPLICA_URLS=$replica_url")
        $PYTHON manage.py warm_cache >"$OUT/$mode-warm.log"
    fi
    echo "loadtest: $mode: starting the balancer (${flags[*]})"
    env "${flags[@]}" LB_COLLECTSTATIC=0 LB_RUN_DIR="$run_dir" LB_PORT="$LB_PORT" deploy/lb.sh >"$OUT/$mode-lb.log" 2>&1 &
    lb_pid=$!
    for _ in $(seq 240); do [ -f "$run_dir/ready" ] && break; kill -0 "$lb_pid" || { cat "$OUT/$mode-lb.log"; exit 1; }; sleep 0.5; done
    [ -f "$run_dir/ready" ] || { echo "loadtest: the balancer did not become ready" >&2; exit 1; }
    cpu_before=$(cpu_seconds "$run_dir/pids")
    echo "loadtest: $mode: $USERS users for $DURATION"
    LOADTEST_FIXTURES="$OUT/fixtures.json" .venv/bin/locust -f loadtest/locustfile.py --headless \
        --host "http://127.0.0.1:$LB_PORT" -u "$USERS" -r "$SPAWN_RATE" -t "$DURATION" \
        --csv "$OUT/$mode" --only-summary --loglevel WARNING >"$OUT/$mode-locust.log" 2>&1 || true
    cpu_after=$(cpu_seconds "$run_dir/pids")
    $PYTHON -c 'import json, sys; json.dump({"cpu_seconds": float(sys.argv[2]) - float(sys.argv[1]), "users": int(sys.argv[3]), "duration": sys.argv[4], "replica": sys.argv[5]}, sys.stdout)' \
        "$cpu_before" "$cpu_after" "$USERS" "$DURATION" "$([ "$mode" = baseline ] || echo "$replica_url")" \
        >"$OUT/$mode-cpu.json"
    if [ -n "$STEPS" ]; then
        echo "loadtest: $mode: capacity search, users $STEPS, ${STEP_SECONDS}s each"
        LOADTEST_FIXTURES="$OUT/fixtures.json" LOADTEST_STEPS="$STEPS" LOADTEST_STEP_SECONDS="$STEP_SECONDS" \
            LOADTEST_STEPS_OUT="$OUT/$mode-steps.json" .venv/bin/locust -f loadtest/locustfile.py --headless \
            --host "http://127.0.0.1:$LB_PORT" --only-summary --loglevel WARNING >"$OUT/$mode-steps-locust.log" 2>&1 || true
    fi
    stop_lb
done

$PYTHON loadtest/check_slo.py "$OUT"
