"""Database health (PostgreSQL): the statistics views, read-only, a few bounded queries each.

Every function returns plain rows (lists of dicts) for the page, the API and the alerts.
On SQLite they return ``None`` and the page says the panel needs PostgreSQL.
"""

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from apps.core.caching import cached
from apps.core.routing import replica_status

# The panels refresh every 5 s in every open tab and cost ~40 ms and 11 queries against
# the statistics views: computed once per interval for all viewers (single flight).
DATABASE_HEALTH_TTL = 5

PG_STAT_STATEMENTS_HELP = (
    "pg_stat_statements is not enabled. Add it to postgresql.conf: "
    "shared_preload_libraries = 'pg_stat_statements' (then restart PostgreSQL), "
    "and run CREATE EXTENSION pg_stat_statements; in this database."
)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _rows(sql: str, params: list | None = None) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def top_statements(*, limit: int = 20) -> tuple[list[dict] | None, str]:
    """(rows, "") from pg_stat_statements by total time, or (None, how to enable it)."""
    if not is_postgres():
        return None, "Needs PostgreSQL."
    installed = _rows("SELECT 1 AS ok FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not installed:
        return None, PG_STAT_STATEMENTS_HELP
    try:
        # A savepoint: an extension created but not preloaded fails this query, and the
        # page's other panels must still run.
        with transaction.atomic():
            rows = _rows(
                """
                SELECT queryid::text AS queryid, left(query, 2000) AS query, calls,
                       round(total_exec_time::numeric, 2) AS total_ms,
                       round(mean_exec_time::numeric, 3) AS mean_ms, rows,
                       round((100.0 * shared_blks_hit
                              / nullif(shared_blks_hit + shared_blks_read, 0))::numeric, 2) AS hit_percent
                FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY total_exec_time DESC
                LIMIT %s
                """,
                [limit],
            )
    except DatabaseError as exc:
        return None, f"{PG_STAT_STATEMENTS_HELP} ({str(exc).strip().splitlines()[0]})"
    return rows, ""


def cache_hit_ratio() -> dict | None:
    if not is_postgres():
        return None
    rows = _rows(
        """
        SELECT round((100.0 * blks_hit / nullif(blks_hit + blks_read, 0))::numeric, 2) AS database_percent,
               (SELECT round((100.0 * sum(heap_blks_hit)
                              / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0))::numeric, 2)
                  FROM pg_statio_user_tables) AS tables_percent,
               (SELECT round((100.0 * sum(idx_blks_hit)
                              / nullif(sum(idx_blks_hit) + sum(idx_blks_read), 0))::numeric, 2)
                  FROM pg_statio_user_indexes) AS indexes_percent,
               xact_commit, xact_rollback, deadlocks, temp_files, temp_bytes
        FROM pg_stat_database WHERE datname = current_database()
        """
    )
    return rows[0] if rows else None


def connections_by_state() -> list[dict] | None:
    if not is_postgres():
        return None
    return _rows(
        """
        SELECT coalesce(state, 'background') AS state, count(*) AS connections,
               (SELECT setting::int FROM pg_settings WHERE name = 'max_connections') AS max_connections
        FROM pg_stat_activity WHERE datname = current_database()
        GROUP BY 1 ORDER BY 2 DESC
        """
    )


def long_running_queries(*, seconds: float | None = None) -> list[dict] | None:
    if not is_postgres():
        return None
    seconds = settings.MONITORING_LONG_QUERY_SECONDS if seconds is None else seconds
    return _rows(
        """
        SELECT pid, usename AS "user", application_name, state, wait_event_type, wait_event,
               round(extract(epoch FROM now() - query_start)::numeric, 1) AS seconds,
               left(query, 2000) AS query
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND state NOT IN ('idle') AND query_start < now() - make_interval(secs => %s)
        ORDER BY query_start LIMIT 50
        """,
        [seconds],
    )


def blocking_locks() -> list[dict] | None:
    """Each blocked statement with the statement blocking it."""
    if not is_postgres():
        return None
    return _rows(
        """
        SELECT blocked.pid AS blocked_pid, left(blocked.query, 1000) AS blocked_query,
               round(extract(epoch FROM now() - blocked.query_start)::numeric, 1) AS blocked_seconds,
               blocking.pid AS blocking_pid, blocking.state AS blocking_state,
               left(blocking.query, 1000) AS blocking_query
        FROM pg_stat_activity AS blocked
        JOIN LATERAL unnest(pg_blocking_pids(blocked.pid)) AS b(pid) ON true
        JOIN pg_stat_activity AS blocking ON blocking.pid = b.pid
        WHERE blocked.datname = current_database()
        ORDER BY blocked.query_start LIMIT 50
        """
    )


def table_stats(*, limit: int = 30) -> list[dict] | None:
    """Largest tables: size, sequential vs index scans, dead tuples, last (auto)vacuum."""
    if not is_postgres():
        return None
    return _rows(
        """
        SELECT relname AS "table", pg_total_relation_size(relid) AS total_bytes,
               pg_size_pretty(pg_total_relation_size(relid)) AS total_size,
               n_live_tup AS live_rows, n_dead_tup AS dead_rows,
               round((100.0 * n_dead_tup / nullif(n_live_tup + n_dead_tup, 0))::numeric, 1) AS dead_percent,
               seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan,
               round((100.0 * coalesce(idx_scan, 0)
                      / nullif(seq_scan + coalesce(idx_scan, 0), 0))::numeric, 1) AS idx_scan_percent,
               greatest(last_vacuum, last_autovacuum) AS last_vacuum,
               greatest(last_analyze, last_autoanalyze) AS last_analyze
        FROM pg_stat_user_tables
        ORDER BY pg_total_relation_size(relid) DESC LIMIT %s
        """,
        [limit],
    )


def unused_indexes(*, limit: int = 30) -> list[dict] | None:
    """Indexes never scanned since statistics were reset (unique ones enforce rules: kept out)."""
    if not is_postgres():
        return None
    return _rows(
        """
        SELECT s.relname AS "table", s.indexrelname AS index, s.idx_scan,
               pg_size_pretty(pg_relation_size(s.indexrelid)) AS size,
               pg_relation_size(s.indexrelid) AS bytes
        FROM pg_stat_user_indexes AS s JOIN pg_index AS i ON i.indexrelid = s.indexrelid
        WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
        ORDER BY pg_relation_size(s.indexrelid) DESC LIMIT %s
        """,
        [limit],
    )


def duplicate_indexes() -> list[dict] | None:
    """Indexes with the same columns as another (exact), or a leading prefix of another's."""
    if not is_postgres():
        return None
    return _rows(
        """
        WITH idx AS (
            SELECT i.indexrelid, i.indrelid, i.indkey::text AS cols, i.indisunique, i.indisprimary,
                   coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
                   coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS pred, i.indclass::text AS opclasses
            FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        )
        SELECT a.indrelid::regclass::text AS "table", a.indexrelid::regclass::text AS index,
               b.indexrelid::regclass::text AS covered_by,
               CASE WHEN a.cols = b.cols THEN 'same columns' ELSE 'leading columns of' END AS relation,
               pg_size_pretty(pg_relation_size(a.indexrelid)) AS size
        FROM idx AS a JOIN idx AS b
          ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
         AND a.exprs = b.exprs AND a.pred = b.pred
         AND (b.cols = a.cols OR b.cols LIKE a.cols || ' %%')
         AND left(b.opclasses, length(a.opclasses)) = a.opclasses
        WHERE NOT a.indisunique AND NOT a.indisprimary
          AND (a.cols <> b.cols OR a.indexrelid > b.indexrelid OR b.indisunique)
        ORDER BY 1, 2 LIMIT 50
        """
    )


def replication() -> dict | None:
    """Standbys streaming from this primary (pg_stat_replication), and each configured replica's lag."""
    if not is_postgres():
        return None
    standbys = _rows(
        """
        SELECT application_name, client_addr::text AS client_addr, state, sync_state,
               pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS replay_lag_bytes,
               extract(epoch FROM replay_lag) AS replay_lag_seconds
        FROM pg_stat_replication ORDER BY application_name
        """
    )
    in_recovery = _rows("SELECT pg_is_in_recovery() AS in_recovery")[0]["in_recovery"]
    return {"standbys": standbys, "in_recovery": in_recovery, "replicas": replica_status()}


def replica_lags() -> dict[str, float | None]:
    """Seconds each configured replica lags (None when unreachable or unknown)."""
    return {alias: status.get("lag_seconds") for alias, status in replica_status().items()}


def database_health_cached() -> dict:
    """``database_health()`` computed at most once per ``DATABASE_HEALTH_TTL`` for all viewers."""
    return cached("monitoring:database-health", database_health, ttl=DATABASE_HEALTH_TTL, stale_ttl=30)


def database_health() -> dict:
    """Every panel at once (the database page, the API)."""
    statements, statements_help = top_statements()
    return {
        "postgres": is_postgres(),
        "statements": statements,
        "statements_help": statements_help,
        "cache": cache_hit_ratio(),
        "connections": connections_by_state(),
        "long_running": long_running_queries(),
        "blocking": blocking_locks(),
        "tables": table_stats(),
        "unused_indexes": unused_indexes(),
        "duplicate_indexes": duplicate_indexes(),
        "replication": replication(),
    }
