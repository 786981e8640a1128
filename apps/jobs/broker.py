"""Publishing jobs to django-q2: one cluster (and broker list) per queue.

A broker connection is kept per queue and process: django-q2's async_task() opens a new
one per call unless given one, which measured here cut enqueue throughput about 6x.
"""

import logging
import threading

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

logger = logging.getLogger(__name__)

RUN_TASK = "apps.jobs.tasks.run"

_local = threading.local()


def broker_for(queue: str) -> Broker:
    brokers = getattr(_local, "brokers", None)
    if brokers is None:
        brokers = _local.brokers = {}
    if queue not in brokers:
        brokers[queue] = get_broker(queue)
    return brokers[queue]


def publish(job_id: int, *, queue: str, timeout: int) -> bool:
    """Hand one job to its queue's cluster. False if the broker is unreachable.

    Losing a publish is safe: the job row stays queued and the dispatcher republishes it.
    """
    try:
        async_task(
            RUN_TASK,
            job_id,
            q_options={
                "broker": broker_for(queue),
                "cluster": queue,
                "task_name": f"job-{job_id}",
                # django-q2 raises its timeout a little after ours would have ended.
                "timeout": timeout,
            },
        )
    except Exception as exc:
        # The broker connection may be broken for good: start a fresh one next time.
        getattr(_local, "brokers", {}).pop(queue, None)
        logger.warning("publish of job %s to queue %s failed: %s", job_id, queue, exc)
        return False
    return True


def queue_size(queue: str) -> int | None:
    """Messages waiting in the broker for ``queue``; None if the broker is unreachable."""
    try:
        return broker_for(queue).queue_size()
    except Exception as exc:
        getattr(_local, "brokers", {}).pop(queue, None)
        logger.warning("queue size of %s unavailable: %s", queue, exc)
        return None
