#!/bin/bash
# Runs once, when the primary's data directory is created: allow replication
# connections with a password from the compose network.
set -euo pipefail
echo "host replication postgres all scram-sha-256" >> "$PGDATA/pg_hba.conf"
