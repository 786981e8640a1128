#!/usr/bin/env bash
# A real local PostgreSQL streaming replica of the development/CI primary, for the
# replica-routing code (apps/core/routing.py) and its integration tests.
#
#   scripts/pg_replica.sh start    create it (first time: pg_basebackup) and start it
#   scripts/pg_replica.sh stop     stop it (its data directory stays for the next start)
#   scripts/pg_replica.sh status   say whether it runs and streams
#   scripts/pg_replica.sh destroy  stop it and delete its data directory
#
# The replica is a second cluster owned by the postgres OS user, on 127.0.0.1:$REPLICA_PORT
# (5433), data in $REPLICA_DIR (/var/lib/postgresql/tempo-replica). It replicates the
# whole primary cluster, so every database of the primary (the test databases too) can
# be read there:  DATABASE_REPLICA_URLS=postgres://postgres@127.0.0.1:5433/<dbname>
#
# Changes to the primary (Debian's cluster, default 15/main on 127.0.0.1:5432) are kept
# minimal and idempotent:
#   - pg_hba.conf gets ONE line, `host replication all 127.0.0.1/32 trust`, marked with a
#     comment, appended only if it is not there; then the primary reloads its
#     configuration (SELECT pg_reload_conf(): no restart, no dropped connection). The
#     existing `host all all 127.0.0.1/32 trust` does not cover replication connections.
#   - wal_level (replica or logical) and max_wal_senders (> 0) are only CHECKED: both are
#     PostgreSQL's defaults, and changing them needs a restart of the primary, which this
#     script never does; it stops with a message instead.
#   - No replication slot: a slot would make the primary keep WAL for a replica left
#     stopped, without bound. If the replica falls too far behind to resume streaming,
#     `start` notices (no streaming within the deadline) and takes a fresh base backup.
set -euo pipefail

PRIMARY_HOST="${PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICA_PORT="${REPLICA_PORT:-5433}"
REPLICA_DIR="${REPLICA_DIR:-/var/lib/postgresql/tempo-replica}"
PG_VERSION="${PG_VERSION:-$(ls /usr/lib/postgresql | sort -n | tail -1)}"
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
MARKER="# tempo: local streaming replica (scripts/pg_replica.sh)"

die() { echo "pg_replica: $*" >&2; exit 1; }
say() { echo "pg_replica: $*"; }

# Run a command as the postgres OS user (the owner of both clusters).
as_postgres() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

primary_sql() { psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -XAtqc "$1"; }
replica_sql() { psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -XAtqc "$1"; }

replica_running() { as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" status >/dev/null 2>&1; }

replica_streaming() {
    [ "$(replica_sql "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null)" = 1 ]
}

prepare_primary() {
    pg_isready -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -q || die "the primary on $PRIMARY_HOST:$PRIMARY_PORT is not running"
    local wal_level senders hba
    wal_level=$(primary_sql "SHOW wal_level")
    senders=$(primary_sql "SHOW max_wal_senders")
    [ "$wal_level" != minimal ] || die "the primary has wal_level=minimal; set wal_level=replica and restart it"
    [ "$senders" -gt 0 ] || die "the primary has max_wal_senders=0; set it to 10 and restart it"
    hba=$(primary_sql "SHOW hba_file")
    if ! grep -qF "$MARKER" "$hba"; then
        say "allowing replication connections from 127.0.0.1 in $hba"
        printf '\n%s\nhost    replication     all             127.0.0.1/32            trust\n' "$MARKER" >>"$hba"
        primary_sql "SELECT pg_reload_conf()" >/dev/null
    fi
}

# Settings a hot standby must not have lower than its primary's.
primary_minimum() { primary_sql "SHOW $1"; }

create_replica() {
    say "base backup of $PRIMARY_HOST:$PRIMARY_PORT into $REPLICA_DIR"
    install -d -o postgres -g postgres -m 700 "$REPLICA_DIR"
    as_postgres "$PG_BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres \
        -D "$REPLICA_DIR" --wal-method=stream --write-recovery-conf --checkpoint=fast --no-password
    # Debian keeps a cluster's configuration in /etc: the copy has none, so it gets its own.
    as_postgres tee "$REPLICA_DIR/postgresql.conf" >/dev/null <<EOF
# Written by scripts/pg_replica.sh: a hot standby of $PRIMARY_HOST:$PRIMARY_PORT.
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$REPLICA_DIR'
hba_file = '$REPLICA_DIR/pg_hba.conf'
ident_file = '$REPLICA_DIR/pg_ident.conf'
hot_standby = on
# Tell the primary which rows running replica queries still need, so that they are not
# cancelled by the primary's vacuum (a development setting).
hot_standby_feedback = on
max_connections = $(primary_minimum max_connections)
max_worker_processes = $(primary_minimum max_worker_processes)
max_wal_senders = $(primary_minimum max_wal_senders)
max_prepared_transactions = $(primary_minimum max_prepared_transactions)
max_locks_per_transaction = $(primary_minimum max_locks_per_transaction)
shared_buffers = 128MB
logging_collector = on
log_directory = 'log'
log_filename = 'replica.log'
EOF
    as_postgres tee "$REPLICA_DIR/pg_hba.conf" >/dev/null <<'EOF'
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
EOF
    as_postgres touch "$REPLICA_DIR/pg_ident.conf"
}

start_replica() {
    as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_DIR/startup.log" -w -t 60 start >/dev/null \
        || { tail -20 "$REPLICA_DIR/startup.log" >&2; die "the replica did not start"; }
}

wait_streaming() {
    local deadline=$((SECONDS + ${1:-30}))
    while [ $SECONDS -lt $deadline ]; do
        replica_streaming && return 0
        sleep 0.5
    done
    return 1
}

cmd_start() {
    prepare_primary
    if replica_running && replica_streaming; then
        say "running on 127.0.0.1:$REPLICA_PORT, streaming"
        return 0
    fi
    if [ ! -f "$REPLICA_DIR/PG_VERSION" ]; then
        create_replica
    fi
    replica_running || start_replica
    if ! wait_streaming 30; then
        say "not streaming after 30s (too far behind the primary?): taking a fresh base backup"
        cmd_destroy
        create_replica
        start_replica
        wait_streaming 60 || die "the replica does not stream; see $REPLICA_DIR/log/replica.log"
    fi
    say "running on 127.0.0.1:$REPLICA_PORT, streaming from $PRIMARY_HOST:$PRIMARY_PORT"
}

cmd_stop() {
    if replica_running; then
        as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -m fast -w stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

cmd_status() {
    if ! replica_running; then
        say "not running"
        return 3
    fi
    if replica_streaming; then
        say "running on 127.0.0.1:$REPLICA_PORT, streaming; replayed up to $(replica_sql 'SELECT pg_last_wal_replay_lsn()')"
    else
        say "running on 127.0.0.1:$REPLICA_PORT, NOT streaming"
        return 1
    fi
}

cmd_destroy() {
    cmd_stop
    case "$REPLICA_DIR" in
        */tempo-replica*) rm -rf "$REPLICA_DIR" ;;
        *) die "refusing to delete $REPLICA_DIR (not a tempo-replica directory)" ;;
    esac
    say "deleted $REPLICA_DIR"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    destroy) cmd_destroy ;;
    *) echo "usage: $0 start|stop|status|destroy" >&2; exit 2 ;;
esac
