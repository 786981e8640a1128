#!/usr/bin/env bash
# A real local Redis Cluster for the cache (REDIS_CACHE_URL=redis-cluster://...) and its
# tests: three masters and three replicas, each a redis-server on 127.0.0.1.
#
#   scripts/redis_cluster.sh start           start the nodes that are not running (the first
#                                            time: create the cluster), wait for cluster_state:ok
#   scripts/redis_cluster.sh stop            stop exactly the processes it started (their PIDs)
#   scripts/redis_cluster.sh status          each node's PID and role; exit 0 only if all run
#                                            and the cluster is ok
#   scripts/redis_cluster.sh failover [PORT] SIGKILL the master on PORT (default: the first
#                                            master), wait until its replica has taken over
#                                            (prints how long), restart it: it rejoins as a
#                                            replica, so the masters' ports have changed
#   scripts/redis_cluster.sh promote PORT    CLUSTER FAILOVER on the replica on PORT (a planned
#                                            hand-over, no lost write): restores the roles
#   scripts/redis_cluster.sh url             the REDIS_CACHE_URL of this cluster
#   scripts/redis_cluster.sh destroy         stop it and delete its directory
#
# Ports: $REDIS_CLUSTER_PORTS (7000-7005: a range or a list, an even number, at least six);
# each node's cluster bus is its port + 10000. Node directories (nodes.conf, log) and PID
# files live in $REDIS_CLUSTER_DIR ($TEMPO_RUN_DIR/tempo-redis-cluster, else
# /tmp/tempo-redis-cluster).
#
# A cache has no persistence (--save "" --appendonly no): a node that restarts comes back
# empty (a master's replica resynchronises it), and the cluster's shape survives in each
# node's nodes.conf. cluster-require-full-coverage is off, so while one master is down only
# its third of the keys is unavailable, not all; a master unreachable for
# $REDIS_CLUSTER_NODE_TIMEOUT ms (2000) is failed over to its replica, however long that
# replica was cut off (cluster-replica-validity-factor 0: for a cache, a replica's older
# copy beats a third of the keys unavailable). Every key has a TTL,
# so maxmemory ($REDIS_CLUSTER_MAXMEMORY per node) evicts with volatile-lru, as the single
# cache Redis does (docs/scaling.md).
set -euo pipefail

HOST=127.0.0.1
PORTS_SPEC="${REDIS_CLUSTER_PORTS:-7000-7005}"
RUN_DIR="${REDIS_CLUSTER_DIR:-${TEMPO_RUN_DIR:-/tmp}/tempo-redis-cluster}"
NODE_TIMEOUT_MS="${REDIS_CLUSTER_NODE_TIMEOUT:-2000}"
MAXMEMORY="${REDIS_CLUSTER_MAXMEMORY:-128mb}"

die() { echo "redis_cluster: $*" >&2; exit 1; }
say() { echo "redis_cluster: $*"; }

command -v redis-server >/dev/null || die "redis-server is not installed (Debian package redis-server)"
command -v redis-cli >/dev/null || die "redis-cli is not installed (Debian package redis-tools)"

# "7000-7005" or "7000 7001 ..." (commas allowed) -> one port per word.
ports() {
    local spec=${PORTS_SPEC//,/ }
    if [[ $spec =~ ^[[:space:]]*([0-9]+)-([0-9]+)[[:space:]]*$ ]]; then
        seq "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    else
        printf '%s\n' $spec
    fi
}
PORTS=$(ports | tr '\n' ' ')
COUNT=$(wc -w <<<"$PORTS")
for port in $PORTS; do
    [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 55535 ] \
        || die "REDIS_CLUSTER_PORTS: '$port' is not a port (1-55535: the bus is port + 10000)"
done
[ "$COUNT" -ge 6 ] && [ $((COUNT % 2)) -eq 0 ] \
    || die "REDIS_CLUSTER_PORTS names $COUNT ports; a cluster of masters with one replica each needs an even number, at least 6"

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }
pid_file() { echo "$RUN_DIR/$1.pid"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The PID in <port>.pid if that process is alive and is the redis-server we started on that
# port (a stale file or a recycled PID is not ours).
pid_of() {
    local port=$1 pid
    [ -f "$(pid_file "$port")" ] || return 1
    pid=$(cat "$(pid_file "$port")")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-server.*:$port\b" || return 1
    echo "$pid"
}
running() { pid_of "$1" >/dev/null; }

start_node() {
    local port=$1 dir="$RUN_DIR/$1"
    mkdir -p "$dir"
    redis-server --port "$port" --bind "$HOST" --daemonize yes \
        --pidfile "$(pid_file "$port")" --dir "$dir" --logfile "$dir/redis.log" \
        --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
        --cluster-node-timeout "$NODE_TIMEOUT_MS" --cluster-require-full-coverage no \
        --save "" --appendonly no --maxmemory "$MAXMEMORY" --maxmemory-policy volatile-lru \
        --cluster-replica-validity-factor 0 --repl-diskless-sync-delay 0
    local deadline=$((SECONDS + 10))
    until running "$port" && cli "$port" ping >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { tail -5 "$dir/redis.log" >&2; die "the node on port $port did not start"; }
        sleep 0.1
    done
}

info_field() { cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

# This node's line of CLUSTER NODES: "<id> <ip:port@bus> <flags> <master id|-> ...".
myself() { cli "$1" cluster nodes 2>/dev/null | grep -m1 'myself'; }
is_master() { myself "$1" | awk '{ exit !($3 ~ /master/) }'; }

link_up() { [ "$(cli "$1" info replication | tr -d '\r' | sed -n 's/^master_link_status://p')" = up ]; }

# Every node sees the cluster ok and all its nodes, and every replica is in sync with its
# master (a replica that never synced is no failover target).
wait_ok() {
    local deadline=$((SECONDS + ${1:-30})) port ok
    while [ $SECONDS -lt $deadline ]; do
        ok=1
        for port in $PORTS; do
            [ "$(info_field "$port" cluster_state)" = ok ] && [ "$(info_field "$port" cluster_known_nodes)" = "$COUNT" ] \
                && { is_master "$port" || link_up "$port"; } \
                || { ok=0; break; }
        done
        [ $ok = 1 ] && return 0
        sleep 0.2
    done
    return 1
}

cmd_start() {
    local port started=0
    mkdir -p "$RUN_DIR"
    for port in $PORTS; do
        running "$port" && continue
        start_node "$port"
        started=$((started + 1))
    done
    if [ "$(info_field "${PORTS%% *}" cluster_slots_assigned)" = 0 ]; then
        for port in $PORTS; do
            [ "$(info_field "$port" cluster_known_nodes)" = 1 ] \
                || die "the node on port $port already belongs to a cluster without slots; '$0 destroy' and start again"
        done
        say "creating the cluster: $((COUNT / 2)) masters, $((COUNT / 2)) replicas"
        # shellcheck disable=SC2046
        redis-cli --cluster create $(for port in $PORTS; do echo "$HOST:$port"; done) \
            --cluster-replicas 1 --cluster-yes >"$RUN_DIR/create.log" 2>&1 \
            || { cat "$RUN_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
    fi
    wait_ok 30 || { cmd_status >&2 || true; die "cluster_state is not ok after 30s (logs: $RUN_DIR/*/redis.log)"; }
    say "running on $HOST ports $PORTS($started started); $(cmd_url)"
}

cmd_stop() {
    local port pid pids=()
    for port in $PORTS; do
        if pid=$(pid_of "$port"); then
            kill -TERM "$pid"
            pids+=("$pid")
        else
            rm -f "$(pid_file "$port")" # stale: that node is gone
        fi
    done
    if [ ${#pids[@]} -eq 0 ]; then
        say "not running"
        return 0
    fi
    local deadline=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null; do
            if [ $SECONDS -ge $deadline ]; then
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
    done
    for port in $PORTS; do running "$port" || rm -f "$(pid_file "$port")"; done
    say "stopped ${#pids[@]} node(s)"
}

cmd_status() {
    local port pid all=0 role
    for port in $PORTS; do
        if pid=$(pid_of "$port"); then
            role=$(myself "$port" | awk '{ print ($3 ~ /master/) ? "master" : "replica" }')
            say "$HOST:$port pid $pid ${role:-?}"
        else
            say "$HOST:$port not running"
            all=1
        fi
    done
    for port in $PORTS; do
        running "$port" || continue
        say "cluster_state: $(info_field "$port" cluster_state)"
        [ "$(info_field "$port" cluster_state)" = ok ] || all=1
        break
    done
    return $all
}

cmd_url() {
    local seeds=""
    for port in $PORTS; do seeds+="${seeds:+,}$HOST:$port"; done
    echo "redis-cluster://$seeds"
}

first_master() {
    local port
    for port in $PORTS; do
        running "$port" && is_master "$port" && { echo "$port"; return 0; }
    done
    return 1
}

cmd_failover() {
    local port=${1:-} pid id replicas r t0 deadline winner=""
    [ -n "$port" ] || port=$(first_master) || die "no master is running"
    pid=$(pid_of "$port") || die "no node of ours runs on port $port"
    is_master "$port" || die "$HOST:$port is not a master"
    id=$(myself "$port" | awk '{ print $1 }')
    replicas=$(cli "$port" cluster nodes | awk -v id="$id" '$4 == id { split($2, a, "[:@]"); print a[2] }')
    [ -n "$replicas" ] || die "$HOST:$port has no replica to take over"
    say "killing the master $HOST:$port (pid $pid, SIGKILL)"
    t0=$(now)
    kill -KILL "$pid"
    deadline=$((SECONDS + 60))
    while [ -z "$winner" ]; do
        [ $SECONDS -lt $deadline ] || die "no replica of $HOST:$port took over within 60s"
        for r in $replicas; do
            if is_master "$r" && [ "$(info_field "$r" cluster_state)" = ok ]; then winner=$r; fi
        done
        [ -n "$winner" ] || sleep 0.05
    done
    say "$HOST:$winner took over from $HOST:$port in $(since "$t0") s"
    rm -f "$(pid_file "$port")"
    start_node "$port"
    deadline=$((SECONDS + 30))
    until ! is_master "$port" && link_up "$port"; do
        [ $SECONDS -lt $deadline ] || die "$HOST:$port did not rejoin as a replica within 30s"
        sleep 0.1
    done
    wait_ok 30 || die "cluster_state is not ok after $HOST:$port rejoined"
    say "$HOST:$port is back, as a replica of $HOST:$winner ($(since "$t0") s after the kill)"
}

cmd_promote() {
    local port=${1:-} deadline
    [ -n "$port" ] || die "usage: $0 promote PORT (a replica's port)"
    running "$port" || die "no node of ours runs on port $port"
    if is_master "$port"; then
        say "$HOST:$port is a master already"
        return 0
    fi
    cli "$port" cluster failover >/dev/null
    deadline=$((SECONDS + 30))
    until is_master "$port"; do
        [ $SECONDS -lt $deadline ] || die "$HOST:$port was not promoted within 30s"
        sleep 0.1
    done
    wait_ok 30 || die "cluster_state is not ok after promoting $HOST:$port"
    say "$HOST:$port is a master again"
}

cmd_destroy() {
    cmd_stop
    case "$RUN_DIR" in
        */tempo-redis-cluster*) rm -rf "$RUN_DIR" ;;
        *) die "refusing to delete $RUN_DIR (not a tempo-redis-cluster directory)" ;;
    esac
    say "deleted $RUN_DIR"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    failover) cmd_failover "${2:-}" ;;
    promote) cmd_promote "${2:-}" ;;
    url) cmd_url ;;
    destroy) cmd_destroy ;;
    *) echo "usage: $0 start|stop|status|failover [PORT]|promote PORT|url|destroy" >&2; exit 2 ;;
esac
