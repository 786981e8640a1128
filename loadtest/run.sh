#!/usr/bin/env bash
# `make loadtest USERS=200 DURATION=60s`: Locust headless against the load-balanced
# setup (deploy/lb.sh, as `make lb`), once per mode of LOADTEST_MODES:
#   optimized  caching and replica routing on (the local replica of scripts/pg_replica.sh
#              when it runs on 127.0.0.1:5433), 2 gunicorns x 3 workers, reports as jobs;
#   baseline   the same with CACHE_ENABLED=0 REPLICA_ROUTING_ENABLED=0;
#   before     the system before this phase: reports written inside the request
#              (REPORTS_INLINE=1), caching and replicas off, ONE gunicorn with the same
#              6 workers, still behind nginx (the same proxy path and CPU accounting).
# Modes that queue reports also run one job worker (manage.py qcluster, queue "default";
# LOADTEST_WORKER=0: none), so that the reports the users ask for are written in the
# measured CPU, as the before mode writes them inside its requests.
# Each run: USERS users for DURATION, the CPU time of the server processes (gunicorn,
# nginx, the worker) and of this database's PostgreSQL backends read from /proc before
# and after; then (STEPS, STEP_SECONDS) a capacity search on the same servers.
# Then (CURVE="1,2,4", empty: skip) the scaling curve: the optimized mode with 1, 2, 4
# gunicorn workers in one instance, pinned with taskset (servers on CPU 0 up to 2 workers,
# CPUs 0-1 for more; Locust on the last CPU), each with a short capacity search
# (CURVE_STEPS, CURVE_STEP_SECONDS). loadtest/check_slo.py writes report.md and curve.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-200}
DURATION=${DURATION:-60s}
SPAWN_RATE=${SPAWN_RATE:-$(( USERS / 10 > 1 ? USERS / 10 : 1 ))}
MODES=${LOADTEST_MODES:-"optimized baseline before"}
STEPS=${STEPS:-}
STEP_SECONDS=${STEP_SECONDS:-20}
CURVE=${CURVE-1,2,4}
CURVE_STEPS=${CURVE_STEPS:-10,25,50,75,100,150,200,300,400}
CURVE_STEP_SECONDS=${CURVE_STEP_SECONDS:-15}
LOADTEST_WORKER=${LOADTEST_WORKER:-1}
LB_PORT=${LB_PORT:-8080}
LB_WEB_PORTS=${LB_WEB_PORTS:-"8101 8102"}
LB_WEB_CONCURRENCY=${LB_WEB_CONCURRENCY:-3}
PYTHON=.venv/bin/python
CPUS=$(nproc)
STAMP=$(date +%Y%m%d-%H%M%S)
OUT="loadtest/results/$STAMP-u$USERS"
mkdir -p "$OUT"
read -r -a web_ports <<<"$LB_WEB_PORTS"
# Every browsing session and token belongs to one account (loadtest/prepare.py), which
# real users' report requests would each have their own quota for: the quotas are off.
export REPORTS_USER_MAX_ACTIVE=${REPORTS_USER_MAX_ACTIVE:-0} JOBS_USER_MAX_ACTIVE=${JOBS_USER_MAX_ACTIVE:-0}

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
database=""
[[ "${DATABASE_URL:-}" == postgres* ]] && database=${DATABASE_URL##*/}

lb_pid=""
worker_pid=""
stop_servers() {
    if [ -n "$worker_pid" ]; then
        # Started with setsid: its PID is its process group (the cluster's children too).
        kill -TERM -- "-$worker_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$worker_pid" 2>/dev/null || true
        worker_pid=""
    fi
    if [ -n "$lb_pid" ]; then
        kill -TERM "$lb_pid" 2>/dev/null || true
        wait "$lb_pid" 2>/dev/null || true
        lb_pid=""
    fi
}
trap stop_servers EXIT INT TERM

# start_servers NAME CPUS FLAGS...: deploy/lb.sh (and the job worker unless the flags say
# REPORTS_INLINE=1) with the app's settings FLAGS, all pinned to CPUS ("" = unpinned).
start_servers() {
    local name=$1 cpus=$2
    shift 2
    local run_dir="$OUT/$name-lb" pin=()
    [ -n "$cpus" ] && pin=(taskset -c "$cpus")
    mkdir -p "$run_dir"
    echo "loadtest: $name: starting the balancer (ports $LB_WEB_PORTS x $LB_WEB_CONCURRENCY workers; $*${cpus:+; CPUs $cpus})"
    env "$@" LB_COLLECTSTATIC=0 LB_RUN_DIR="$run_dir" LB_PORT="$LB_PORT" LB_WEB_PORTS="$LB_WEB_PORTS" \
        LB_WEB_CONCURRENCY="$LB_WEB_CONCURRENCY" "${pin[@]}" deploy/lb.sh >"$OUT/$name-lb.log" 2>&1 &
    lb_pid=$!
    for _ in $(seq 240); do [ -f "$run_dir/ready" ] && break; kill -0 "$lb_pid" 2>/dev/null || break; sleep 0.5; done
    if [ ! -f "$run_dir/ready" ]; then
        echo "loadtest: $name: the balancer did not become ready; see $OUT/$name-lb.log and $run_dir" >&2
        stop_servers
        return 1
    fi
    if [ "$LOADTEST_WORKER" = 1 ] && [[ " $* " != *" REPORTS_INLINE=1 "* ]]; then
        env "$@" DEBUG=0 Q_CLUSTER_NAME=default "${pin[@]}" setsid $PYTHON manage.py qcluster >"$OUT/$name-worker.log" 2>&1 &
        worker_pid=$!
        echo "$worker_pid" >>"$run_dir/pids"
    fi
}

# usage NAME: CPU seconds of the server processes (process groups in the pids file) and
# of this database's PostgreSQL backends, as JSON (loadtest/usage.py).
usage() {
    $PYTHON loadtest/usage.py "$OUT/$1-lb/pids" "$database"
}

# locust_run NAME LOCUST_CPUS ARGS...: Locust headless against the balancer.
locust_run() {
    local name=$1 cpus=$2 pin=()
    shift 2
    [ -n "$cpus" ] && pin=(taskset -c "$cpus")
    LOADTEST_FIXTURES="$OUT/fixtures.json" "${pin[@]}" .venv/bin/locust -f loadtest/locustfile.py --headless \
        --host "http://127.0.0.1:$LB_PORT" --only-summary --loglevel WARNING "$@" >"$OUT/$name-locust.log" 2>&1 || true
}

# search NAME STEPS SECONDS LOCUST_CPUS: a capacity search (the locustfile's LOADTEST_STEPS).
search() {
    echo "loadtest: $1: capacity search, users $2, ${3}s each"
    LOADTEST_STEPS="$2" LOADTEST_STEP_SECONDS="$3" LOADTEST_STEPS_OUT="$OUT/$1-steps.json" \
        locust_run "$1-steps" "$4" --csv "$OUT/$1-steps"
}

for mode in $MODES; do
    case $mode in
        optimized)
            flags=(CACHE_ENABLED=1 REPLICA_ROUTING_ENABLED=1 "DATABASE_REPLICA_URLS=$replica_url" REPORTS_INLINE=0)
            $PYTHON manage.py warm_cache >"$OUT/$mode-warm.log" ;;
        baseline) flags=(CACHE_ENABLED=0 REPLICA_ROUTING_ENABLED=0 DATABASE_REPLICA_URLS= REPORTS_INLINE=0) ;;
        # The user read by a query per request, as before (sessions stay signed cookies in
        # every mode: the prepared ones are; that cut measured ~0.1 ms per request).
        before) flags=(CACHE_ENABLED=0 REPLICA_ROUTING_ENABLED=0 DATABASE_REPLICA_URLS= REPORTS_INLINE=1 USER_CACHE_SECONDS=0) ;;
        *) echo "loadtest: unknown mode $mode (optimized, baseline, before)" >&2; exit 2 ;;
    esac
    if [ "$mode" = before ]; then
        # One server with all the workers the balanced setup spreads over its instances.
        LB_WEB_PORTS=${web_ports[0]} LB_WEB_CONCURRENCY=$(( ${#web_ports[@]} * LB_WEB_CONCURRENCY )) \
            start_servers "$mode" "" "${flags[@]}" || exit 1
    else
        start_servers "$mode" "" "${flags[@]}" || exit 1
    fi
    before_usage=$(usage "$mode")
    echo "loadtest: $mode: $USERS users for $DURATION"
    locust_run "$mode" "" -u "$USERS" -r "$SPAWN_RATE" -t "$DURATION" --csv "$OUT/$mode"
    after_usage=$(usage "$mode")
    $PYTHON loadtest/usage.py --difference "$before_usage" "$after_usage" \
        users="$USERS" duration="$DURATION" replica="$([ "$mode" = optimized ] && echo "$replica_url")" \
        servers="$(if [ "$mode" = before ]; then echo "1 x $(( ${#web_ports[@]} * LB_WEB_CONCURRENCY ))"; else echo "${#web_ports[@]} x $LB_WEB_CONCURRENCY"; fi)" \
        >"$OUT/$mode-cpu.json"
    [ -n "$STEPS" ] && search "$mode" "$STEPS" "$STEP_SECONDS" ""
    stop_servers
done

# The scaling curve: one gunicorn with N workers, servers and Locust pinned apart where
# the machine has the CPUs for it. PostgreSQL and Redis are not pinned (not ours to move).
locust_cpu=$(( CPUS - 1 ))
for processes in ${CURVE//,/ }; do
    half=$(( (processes + 1) / 2 ))
    server_cpus="0-$(( (half < CPUS ? half : CPUS) - 1 ))"
    [ "$server_cpus" = 0-0 ] && server_cpus=0
    name="curve-$processes"
    # A point whose servers do not start is left out of the curve (the report shows the rest).
    LB_WEB_PORTS=${web_ports[0]} LB_WEB_CONCURRENCY=$processes start_servers "$name" "$server_cpus" \
        CACHE_ENABLED=1 REPLICA_ROUTING_ENABLED=1 "DATABASE_REPLICA_URLS=$replica_url" REPORTS_INLINE=0 || continue
    before_usage=$(usage "$name")
    search "$name" "$CURVE_STEPS" "$CURVE_STEP_SECONDS" "$locust_cpu"
    after_usage=$(usage "$name")
    $PYTHON loadtest/usage.py --difference "$before_usage" "$after_usage" processes="$processes" \
        server_cpus="$server_cpus" locust_cpu="$locust_cpu" cpus="$CPUS" >"$OUT/$name-cpu.json"
    stop_servers
done

$PYTHON loadtest/check_slo.py "$OUT"
