#!/bin/bash
# A hot standby of postgres-primary: base backup on first start, then stream.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -h postgres-primary -U postgres; do sleep 1; done
    rm -rf "${PGDATA:?}"/*
    pg_basebackup -h postgres-primary -U postgres -D "$PGDATA" --wal-method=stream --write-recovery-conf
    # The standby reconnects with the same credentials whenever streaming breaks.
    echo "primary_conninfo = 'host=postgres-primary user=postgres password=${PGPASSWORD}'" >> "$PGDATA/postgresql.auto.conf"
    chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
