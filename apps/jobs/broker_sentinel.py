"""django-q2's Redis broker on the primary that Redis Sentinel names (JOBS_BROKER_SENTINEL_URL).

Settings make it Q_CLUSTER's ``broker_class``, so django-q2's ``get_broker()`` returns it
everywhere: in the qcluster (pusher, guard, statistics) and in ``apps.jobs.broker``, which
publishes and reads queue depths. Each connection is made through redis-py's Sentinel
pool: it asks the sentinels for the current primary whenever it connects, and a
connection to a server that is no longer the primary fails (the sentinels close the
demoted primary's clients; a READONLY answer is turned into a connection error), so the
next attempt reaches the new one. One retry is allowed for that: after a planned
failover the first command on an old connection succeeds on its second try.

A failover still loses what the old primary had not yet sent to its replica (replication
is asynchronous): those jobs stay queued in the Job table and the dispatcher republishes
them. A message that survives in the new primary after a worker already took it is
delivered twice; the runner's claim makes the second delivery a no-op.
"""

import logging
import time

import redis
from django.conf import settings
from django_q.brokers.redis_broker import Redis as RedisBroker
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

logger = logging.getLogger(__name__)

# After a failed pull the pusher waits this long before asking again (the primary may be
# between two servers for a second or two).
PULL_PAUSE = 0.25


class SentinelBroker(RedisBroker):
    @staticmethod
    def get_connection(list_key: str | None = None) -> redis.Redis:
        config = settings.JOBS_BROKER_SENTINEL
        options = {
            "socket_connect_timeout": settings.JOBS_BROKER_TIMEOUT,
            "socket_timeout": settings.JOBS_BROKER_TIMEOUT,
            **config.credentials,
        }
        # redis-py's default (10 retries with backoff) would stretch a bounded publish to
        # seconds, and each sentinel that is down would cost as much: a sentinel is asked
        # once (the next one is asked instead), the primary gets one immediate retry, which
        # covers a connection the failover closed.
        sentinel = Sentinel(
            list(config.sentinels),
            sentinel_kwargs={**options, "retry": Retry(NoBackoff(), 0)},
            retry=Retry(NoBackoff(), 1),
            **options,
        )
        return sentinel.master_for(config.master, db=config.db)

    def dequeue(self):
        """django-q2's pull, with a wait shorter than the socket timeout, and a failover
        costing a short pause instead of the pusher: on any broker error django-q2's pusher
        sleeps 10 s and exits (its guard starts another), which would add 10 s to every
        failover."""
        wait = min(1.0, settings.JOBS_BROKER_TIMEOUT / 2)
        try:
            task = self.connection.blpop(self.list_key, wait)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._pull_failed(exc)
            return None
        except redis.ResponseError as exc:
            # A pull blocked on a primary that is being demoted ends with -UNBLOCKED.
            if not str(exc).startswith("UNBLOCKED"):
                raise
            self._pull_failed(exc)
            return None
        if task:
            return [(None, task[1])]
        return None

    def _pull_failed(self, exc: Exception) -> None:
        logger.warning("pulling from %s failed (%s); asking the sentinels again", self.list_key, exc)
        time.sleep(PULL_PAUSE)
