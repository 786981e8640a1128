"""django-q2's Q_CLUSTER: one cluster per queue, run by `qcluster` with Q_CLUSTER_NAME=<queue>.

The Job table is the record and the dispatcher (jobs_dispatcher) schedules and republishes,
so django-q2 keeps no success rows, runs no scheduler and prefetches little.
"""


def q_cluster(*, workers: dict[str, int], recycle: int, redis_url: str, sentinel: bool) -> dict:
    """The broker is Redis (``redis_url``; its primary named by Sentinel when ``sentinel``),
    else the database."""
    conf: dict = {
        "name": "default",
        "label": "Broker (django-q2)",
        "workers": workers["default"],
        # Prefetch little: a message held by a dying cluster waits for the dispatcher.
        "queue_limit": workers["default"] * 2,
        # A job's own timeout is passed per task; this is only the ceiling.
        "timeout": 3700,
        "retry": 3800,
        "max_attempts": 1,
        "ack_failures": True,
        # The Job row is the record: django-q2's own success rows would cost ~5x throughput.
        "save_limit": -1,
        "recycle": recycle,
        # Scheduling is the dispatcher's (jobs_dispatcher); django-q2's would poll the DB too.
        "scheduler": False,
        "catch_up": False,
        "poll": 0.2,
        "guard_cycle": 0.5,
        "ALT_CLUSTERS": {
            queue: {"workers": count, "queue_limit": count * 2}
            for queue, count in workers.items()
            if queue != "default"
        },
    }
    if redis_url:
        conf["redis"] = redis_url
    else:
        conf["orm"] = "default"
    if sentinel:
        conf["broker_class"] = "apps.jobs.broker_sentinel.SentinelBroker"
    return conf
