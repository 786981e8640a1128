#!/usr/bin/env bash
# A local Redis Sentinel set for the job broker (JOBS_BROKER_SENTINEL_URL) and its
# integration tests: one primary, one replica, three sentinels, all on 127.0.0.1.
#
#   scripts/redis_sentinel.sh start     start what is not running (first time: fresh configs);
#                                       a data node that was down comes back as a replica of
#                                       the current primary, so this also restores the set
#                                       after a failover
#   scripts/redis_sentinel.sh stop      stop exactly the processes it started (by their PIDs)
#   scripts/redis_sentinel.sh status    roles and health; exit 0 only if all five run and agree
#   scripts/redis_sentinel.sh failover  SENTINEL FAILOVER tempo (a planned switch), then wait
#                                       until every sentinel names the new primary
#   scripts/redis_sentinel.sh primary   print the current primary's host:port and PID
#
# Ports: data nodes $PRIMARY_PORT (6380) and $REPLICA_PORT (6381), sentinels
# $SENTINEL_PORTS (26380 26381 26382); the monitored name is $MASTER_NAME (tempo), quorum 2.
# Configs, logs and PID files live in $RUN_DIR (/tmp/tempo-redis-sentinel).
#
# No persistence (--save "" --appendonly no): a node that restarts comes back empty and
# resynchronises from the primary; if every data node stops, the broker lists are gone.
# That is by design: the Job table is the durable record and the dispatcher republishes
# queued jobs the broker lost.
#
#   JOBS_BROKER_SENTINEL_URL=redis-sentinel://127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382/tempo/0
set -euo pipefail

HOST=127.0.0.1
PRIMARY_PORT="${PRIMARY_PORT:-6380}"
REPLICA_PORT="${REPLICA_PORT:-6381}"
SENTINEL_PORTS="${SENTINEL_PORTS:-26380 26381 26382}"
MASTER_NAME="${MASTER_NAME:-tempo}"
RUN_DIR="${RUN_DIR:-/tmp/tempo-redis-sentinel}"
# A primary that does not answer for this long is taken for down (sentinels' vote follows).
DOWN_AFTER_MS="${DOWN_AFTER_MS:-1000}"
FAILOVER_TIMEOUT_MS="${FAILOVER_TIMEOUT_MS:-5000}"

die() { echo "redis_sentinel: $*" >&2; exit 1; }
say() { echo "redis_sentinel: $*"; }

command -v redis-server >/dev/null || die "redis-server is not installed (Debian package redis-server)"
command -v redis-cli >/dev/null || die "redis-cli is not installed (Debian package redis-tools)"

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }
pid_file() { echo "$RUN_DIR/$1.pid"; }

# The PID in <name>.pid if that process is alive and is the redis-server we started on
# that port (a stale file or a recycled PID is not ours).
pid_of() {
    local name=$1 port=$2 pid
    [ -f "$(pid_file "$name")" ] || return 1
    pid=$(cat "$(pid_file "$name")")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-.*:$port\b" || return 1
    echo "$pid"
}

running() { pid_of "$1" "$2" >/dev/null; }

nodes() { echo "node-$PRIMARY_PORT:$PRIMARY_PORT node-$REPLICA_PORT:$REPLICA_PORT"; }
sentinels() { local p; for p in $SENTINEL_PORTS; do echo "sentinel-$p:$p"; done; }

wait_until() {
    local seconds=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || die "gave up after ${seconds}s waiting for $what (logs in $RUN_DIR)"
        sleep 0.2
    done
}

# The primary the sentinels name (host:port), asking each until one answers.
current_primary() {
    local port answer
    for port in $SENTINEL_PORTS; do
        answer=$(cli "$port" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | paste -sd: -) || continue
        [ -n "$answer" ] && { echo "$answer"; return 0; }
    done
    return 1
}

write_node_config() {
    local port=$1 replica_of=${2:-}
    cat >"$RUN_DIR/node-$port.conf" <<EOF
# Written by scripts/redis_sentinel.sh; the sentinels rewrite replicaof on a failover.
bind $HOST
port $port
protected-mode yes
daemonize yes
pidfile $(pid_file "node-$port")
logfile $RUN_DIR/node-$port.log
dir $RUN_DIR
dbfilename node-$port.rdb
save ""
appendonly no
EOF
    if [ -n "$replica_of" ]; then
        echo "replicaof ${replica_of%:*} ${replica_of#*:}" >>"$RUN_DIR/node-$port.conf"
    fi
}

write_sentinel_config() {
    local port=$1
    cat >"$RUN_DIR/sentinel-$port.conf" <<EOF
# Written by scripts/redis_sentinel.sh; the sentinel rewrites it with what it learns.
bind $HOST
port $port
daemonize yes
pidfile $(pid_file "sentinel-$port")
logfile $RUN_DIR/sentinel-$port.log
dir $RUN_DIR
sentinel monitor $MASTER_NAME $HOST $PRIMARY_PORT 2
sentinel down-after-milliseconds $MASTER_NAME $DOWN_AFTER_MS
sentinel failover-timeout $MASTER_NAME $FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $MASTER_NAME 1
EOF
}

start_node() {
    local port=$1 replica_of=${2:-}
    write_node_config "$port" "$replica_of"
    redis-server "$RUN_DIR/node-$port.conf" || die "redis-server on $port did not start (see $RUN_DIR/node-$port.log)"
    wait_until 10 "redis on $port" cli "$port" ping
}

start_sentinel() {
    local port=$1
    # A sentinel's config holds what it learned (the current primary, its peers): keep it.
    [ -f "$RUN_DIR/sentinel-$port.conf" ] || write_sentinel_config "$port"
    redis-server "$RUN_DIR/sentinel-$port.conf" --sentinel \
        || die "sentinel on $port did not start (see $RUN_DIR/sentinel-$port.log)"
    wait_until 10 "sentinel on $port" cli "$port" ping
}

# Every sentinel names the same primary, sees the replica as healthy and knows its two peers.
settled() {
    local primary port info
    primary=$(current_primary) || return 1
    [ "$(cli "${primary#*:}" ROLE | head -1)" = master ] || return 1
    [ "$(cli "${primary#*:}" INFO replication | tr -d '\r' | grep -c 'state=online')" -ge 1 ] || return 1
    for port in $SENTINEL_PORTS; do
        [ "$(cli "$port" SENTINEL get-master-addr-by-name "$MASTER_NAME" | paste -sd: -)" = "$primary" ] || return 1
        info=$(cli "$port" SENTINEL master "$MASTER_NAME" | paste -sd' ' -)
        [[ " $info " == *" num-other-sentinels 2 "* ]] || return 1
        [[ " $info " == *" flags master "* ]] || return 1
        cli "$port" SENTINEL replicas "$MASTER_NAME" | paste -sd' ' - | grep -q "master-link-status ok" || return 1
    done
}

cmd_start() {
    local entry name port primary any_running=0
    mkdir -p "$RUN_DIR"
    for entry in $(nodes) $(sentinels); do
        running "${entry%:*}" "${entry#*:}" && any_running=1
    done
    if [ $any_running = 0 ]; then
        # Nothing runs: a fresh set, primary on $PRIMARY_PORT (forget earlier failovers).
        rm -f "$RUN_DIR"/*.conf "$RUN_DIR"/*.pid "$RUN_DIR"/*.rdb
        start_node "$PRIMARY_PORT"
        start_node "$REPLICA_PORT" "$HOST:$PRIMARY_PORT"
        for entry in $(sentinels); do start_sentinel "${entry#*:}"; done
    else
        for entry in $(sentinels); do
            running "${entry%:*}" "${entry#*:}" || start_sentinel "${entry#*:}"
        done
        primary=$(current_primary) || die "the sentinels name no primary; run: $0 stop && $0 start"
        for entry in $(nodes); do
            name=${entry%:*} port=${entry#*:}
            if ! running "$name" "$port"; then
                if [ "$primary" = "$HOST:$port" ]; then
                    # The sentinels have not failed over yet: it comes back as the primary.
                    start_node "$port"
                else
                    say "node $port comes back as a replica of $primary"
                    start_node "$port" "$primary"
                fi
            fi
        done
    fi
    wait_until 60 "the sentinels to agree on the primary, its replica and each other" settled
    say "running: primary $(current_primary), sentinels on $(echo "$SENTINEL_PORTS" | tr ' ' ,)"
}

cmd_stop() {
    local entry name port pid stopped=0
    for entry in $(sentinels) $(nodes); do
        name=${entry%:*} port=${entry#*:}
        if pid=$(pid_of "$name" "$port"); then
            kill "$pid"
            for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
            [ ! -d "/proc/$pid" ] || kill -KILL "$pid"
            stopped=$((stopped + 1))
        fi
        rm -f "$(pid_file "$name")"
    done
    say "stopped $stopped process(es)"
}

cmd_status() {
    local entry name port pid ok=0 primary
    for entry in $(nodes); do
        name=${entry%:*} port=${entry#*:}
        if pid=$(pid_of "$name" "$port"); then
            say "node $port (pid $pid): $(cli "$port" ROLE | head -1)"
        else
            say "node $port: not running"; ok=1
        fi
    done
    for entry in $(sentinels); do
        name=${entry%:*} port=${entry#*:}
        if pid=$(pid_of "$name" "$port"); then
            say "sentinel $port (pid $pid): primary $(cli "$port" SENTINEL get-master-addr-by-name "$MASTER_NAME" | paste -sd: -)"
        else
            say "sentinel $port: not running"; ok=1
        fi
    done
    if primary=$(current_primary) && settled; then
        say "settled: primary $primary"
    else
        say "not settled"; ok=1
    fi
    return $ok
}

cmd_failover() {
    local before after port answer
    before=$(current_primary) || die "no sentinel answers; run: $0 start"
    port=${SENTINEL_PORTS%% *}
    answer=$(cli "$port" SENTINEL FAILOVER "$MASTER_NAME")
    [ "$answer" = OK ] || die "SENTINEL FAILOVER $MASTER_NAME: $answer"
    wait_until 30 "a new primary" sh -c "[ \"\$(redis-cli -h $HOST -p $port SENTINEL get-master-addr-by-name $MASTER_NAME | paste -sd: -)\" != $before ]"
    wait_until 60 "the set to settle after the failover" settled
    after=$(current_primary)
    say "failed over: $before -> $after"
}

cmd_primary() {
    local primary port
    primary=$(current_primary) || die "no sentinel answers; run: $0 start"
    port=${primary#*:}
    echo "$primary $(pid_of "node-$port" "$port" || echo '?')"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    failover) cmd_failover ;;
    primary) cmd_primary ;;
    *) echo "usage: $0 start|stop|status|failover|primary" >&2; exit 2 ;;
esac
