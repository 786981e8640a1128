"""``DATABASES`` entries from URLs, shaped for the process that uses them.

Settings declare the values (README lists them); this module turns one URL into the
entry Django wants: psycopg 3's pool for web processes, persistent connections for job
workers, WAL for SQLite, and fast give-ups for replicas.
"""

import environ

POSTGRESQL = "django.db.backends.postgresql"


def database_config(
    url: str,
    *,
    worker_process: bool,
    pool: dict | None,
    conn_max_age: int,
    disable_server_side_cursors: bool,
    worker_synchronous_commit: str,
    replica_pool_timeout: float | None = None,
) -> dict:
    """One ``DATABASES`` entry; ``pool`` is psycopg's pool options, or None for persistent
    connections; ``replica_pool_timeout`` set makes it a replica's entry."""
    config = environ.Env.db_url_config(url)
    options = config.setdefault("OPTIONS", {})
    # A health check is a round trip per request (or per job, in a worker). Workers skip
    # it: a broken connection fails one claim, is then replaced, and the dispatcher
    # republishes the job that was not claimed.
    config["CONN_HEALTH_CHECKS"] = not worker_process
    # Behind PgBouncer in transaction pooling mode (deploy/pgbouncer.ini) this must be on.
    config["DISABLE_SERVER_SIDE_CURSORS"] = disable_server_side_cursors
    if config["ENGINE"] == POSTGRESQL and worker_process:
        # A job's state writes need not wait for the disk: if the last ones are lost in a
        # crash, the job is found queued or with a stale heartbeat and runs again
        # (at-least-once), and WAL order means a durable end implies durable work before it.
        options["options"] = f"-c synchronous_commit={worker_synchronous_commit}"
    if config["ENGINE"] == POSTGRESQL and pool is None:
        config["CONN_MAX_AGE"] = conn_max_age
    elif config["ENGINE"] == POSTGRESQL:
        # Django's pool replaces persistent connections: CONN_MAX_AGE must stay 0.
        config["CONN_MAX_AGE"] = 0
        options["pool"] = dict(pool)
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process read while a worker writes.
        options.update(
            {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            }
        )
    if replica_pool_timeout is not None:
        _replica(config, pool_timeout=replica_pool_timeout)
    return config


def _replica(config: dict, *, pool_timeout: float) -> None:
    # Replicas hold the primary's data; tests must not try to create them.
    config["TEST"] = {"MIRROR": "default"}
    # No health check per checkout (a round trip on every request that reads): a broken
    # replica connection fails a read, and the middleware runs the request again on the
    # primary. A stopped replica must cost a request little: its pool gives up fast (the
    # router then retries the request on the primary and skips the replica).
    config["CONN_HEALTH_CHECKS"] = False
    if "pool" in config["OPTIONS"]:
        config["OPTIONS"]["pool"]["timeout"] = pool_timeout
    if config["ENGINE"] == POSTGRESQL:
        config["OPTIONS"].setdefault("connect_timeout", 2)
