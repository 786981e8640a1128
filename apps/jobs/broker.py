"""Publishing jobs to django-q2: one cluster (and broker list) per queue.

A broker connection is kept per queue and process: django-q2's async_task() opens a new
one per call unless given one, which measured here cut enqueue throughput about 6x.

A broker that is down must not fail, or stall, the requests that enqueue: the Job row is
the record, and the dispatcher publishes what the broker never got. So the connection
made here gives up after JOBS_BROKER_TIMEOUT seconds (connect, or one command), and a
failure opens a circuit (apps.core.circuit): for JOBS_BROKER_RETRY_AFTER seconds this
process does not try the broker at all (publish() answers False, queue_size() None), so a
dead broker costs one timeout per process and interval instead of one per request.
"""

import logging
import threading

import redis
from django.conf import settings
from django_q.brokers import Broker, get_broker
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.conf import Conf
from django_q.tasks import async_task
from redis.backoff import NoBackoff
from redis.retry import Retry

from apps.core.circuit import Circuit

logger = logging.getLogger(__name__)

RUN_TASK = "apps.jobs.tasks.run"

_local = threading.local()
# Shared by the process's threads.
circuit = Circuit("broker", retry_after=lambda: settings.JOBS_BROKER_RETRY_AFTER)


class _BoundedRedisBroker(RedisBroker):
    """django-q2's Redis broker on a connection with connect and command timeouts."""

    @staticmethod
    def get_connection(list_key: str | None = None) -> redis.Redis:
        timeouts = {
            "socket_connect_timeout": settings.JOBS_BROKER_TIMEOUT,
            "socket_timeout": settings.JOBS_BROKER_TIMEOUT,
            # One immediate retry (a connection the server closed), not redis-py 8's ten
            # with backoff: those made one refused connection cost ~3.8 s.
            "retry": Retry(NoBackoff(), 1),
        }
        if isinstance(Conf.REDIS, str):
            return redis.Redis.from_url(Conf.REDIS, **timeouts)
        return redis.Redis(**{**Conf.REDIS, **timeouts})


def broker_for(queue: str) -> Broker:
    brokers = getattr(_local, "brokers", None)
    if brokers is None:
        brokers = _local.brokers = {}
    if queue not in brokers:
        broker = get_broker(queue)
        if type(broker) is RedisBroker and not Conf.DJANGO_REDIS:
            broker = _BoundedRedisBroker(list_key=queue)
        brokers[queue] = broker
    return brokers[queue]


def broker_available() -> bool:
    """False while the circuit is open (a recent failure); then the broker is tried again."""
    return circuit.due()


def _failed(queue: str, action: str, exc: Exception) -> None:
    # The connection may be broken for good: start a fresh one next time.
    getattr(_local, "brokers", {}).pop(queue, None)
    logger.info("%s failed (queue %s): %s", action, queue, exc)
    circuit.failed(exc)


def publish(job_id: int, *, queue: str, timeout: int) -> bool:
    """Hand one job to its queue's cluster. False if the broker is unreachable.

    Losing a publish is safe: the job row stays queued and the dispatcher republishes it.
    """
    if not circuit.allows():
        logger.info("publish of job %s to queue %s skipped: the broker is down", job_id, queue)
        return False
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
        _failed(queue, f"publish of job {job_id}", exc)
        return False
    circuit.succeeded()
    return True


def queue_size(queue: str) -> int | None:
    """Messages waiting in the broker for ``queue``; None if the broker is unreachable."""
    if not circuit.allows():
        return None
    try:
        size = broker_for(queue).queue_size()
    except Exception as exc:
        _failed(queue, "queue size", exc)
        return None
    circuit.succeeded()
    return size
