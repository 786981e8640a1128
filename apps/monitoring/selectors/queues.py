"""Queue health: depth (broker and Job table), oldest waiting job, throughput, failures,
running jobs, dead letters, live worker clusters and a recommended worker count."""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.jobs.models import Job, Queue, Status
from apps.jobs.selectors import queue_depth, worker_cluster_stats
from apps.monitoring.models import MetricKind
from apps.monitoring.selectors.metrics import Summary, summaries, total


@dataclass
class QueueHealth:
    name: str
    configured_workers: int
    queued: int = 0
    broker_depth: int | None = None
    running: int = 0
    retry_pending: int = 0
    scheduled: int = 0
    dead: int = 0
    oldest_queued_seconds: float | None = None
    run: Summary | None = None
    wait: Summary | None = None
    minutes: float = 1.0
    per_minute: list[int] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return self.run.counters.get("succeeded", 0) if self.run else 0

    @property
    def failures(self) -> int:
        return self.run.errors if self.run else 0

    @property
    def throughput_per_minute(self) -> float:
        return self.succeeded / self.minutes if self.minutes else 0.0

    @property
    def failure_rate(self) -> float:
        attempts = self.succeeded + self.failures
        return 100.0 * self.failures / attempts if attempts else 0.0

    @property
    def arrival_per_second(self) -> float:
        """Jobs started per second (in a steady state, the arrival rate)."""
        return (self.wait.count if self.wait else 0) / (self.minutes * 60) if self.minutes else 0.0

    @property
    def mean_run_seconds(self) -> float | None:
        return self.run.mean_ms / 1000.0 if self.run and self.run.mean_ms is not None else None

    @property
    def recommended_workers(self) -> int | None:
        """Little's law: busy workers L = arrival rate x mean run time; sized for the
        target utilisation (MONITORING_WORKER_UTILISATION), plus one for the backlog when
        jobs are waiting."""
        if self.mean_run_seconds is None:
            return None
        busy = self.arrival_per_second * self.mean_run_seconds
        workers = math.ceil(busy / settings.MONITORING_WORKER_UTILISATION) if busy > 0 else 1
        if self.queued and self.oldest_queued_seconds and self.oldest_queued_seconds > 60:
            workers += 1
        return max(workers, 1)

    def as_dict(self) -> dict:
        return {
            "queue": self.name,
            "configured_workers": self.configured_workers,
            "recommended_workers": self.recommended_workers,
            "queued": self.queued,
            "broker_depth": self.broker_depth,
            "running": self.running,
            "retry_pending": self.retry_pending,
            "scheduled": self.scheduled,
            "dead": self.dead,
            "oldest_queued_seconds": self.oldest_queued_seconds,
            "throughput_per_minute": round(self.throughput_per_minute, 3),
            "failure_rate": round(self.failure_rate, 2),
            "arrival_per_second": round(self.arrival_per_second, 4),
            "mean_run_seconds": None if self.mean_run_seconds is None else round(self.mean_run_seconds, 3),
            "wait_p95_ms": None if not self.wait else self.wait.p95,
            "run_p95_ms": None if not self.run else self.run.p95,
        }


def _total_by_queue(items: list[Summary], kind: str) -> dict[str, Summary]:
    """The "<queue>:<kind>" series of each queue added up into one per queue."""
    by_queue: dict[str, list[Summary]] = {}
    for item in items:
        by_queue.setdefault(item.key.split(":", 1)[0], []).append(item)
    return {queue: total(group, kind=kind, key=queue) for queue, group in by_queue.items()}


def queues_health(
    *, window: timedelta, now: datetime | None = None, slots: int = 30, with_broker: bool = True
) -> list[QueueHealth]:
    now = now or timezone.now()
    minutes = window.total_seconds() / 60
    counts = {
        (row["queue"], row["status"]): row["n"]
        for row in Job.objects.filter(
            status__in=[Status.QUEUED, Status.RUNNING, Status.FAILED, Status.SCHEDULED, Status.DEAD]
        )
        .values("queue", "status")
        .annotate(n=Count("id"))
        .order_by()
    }
    oldest = {
        row["queue"]: row["oldest"]
        for row in Job.objects.filter(status=Status.QUEUED)
        .values("queue")
        .annotate(oldest=Min(Coalesce("run_at", "created_at")))
        .order_by()
    }
    run = _total_by_queue(
        summaries(kinds=[MetricKind.JOB_RUN], window=window, now=now, slots=slots), MetricKind.JOB_RUN
    )
    wait = _total_by_queue(
        summaries(kinds=[MetricKind.JOB_WAIT], window=window, now=now), MetricKind.JOB_WAIT
    )
    result = []
    for queue in Queue.values:
        health = QueueHealth(
            name=queue,
            configured_workers=settings.JOBS_WORKERS.get(queue, 0),
            queued=counts.get((queue, Status.QUEUED), 0),
            running=counts.get((queue, Status.RUNNING), 0),
            retry_pending=counts.get((queue, Status.FAILED), 0),
            scheduled=counts.get((queue, Status.SCHEDULED), 0),
            dead=counts.get((queue, Status.DEAD), 0),
            oldest_queued_seconds=(now - oldest[queue]).total_seconds() if oldest.get(queue) else None,
            run=run.get(queue),
            wait=wait.get(queue),
            minutes=minutes,
        )
        if health.run and health.run.slots:
            health.per_minute = [count for count, _ in health.run.slots]
        if with_broker:
            health.broker_depth = queue_depth(queue=queue)
        result.append(health)
    return result


def running_jobs(*, limit: int = 25) -> list[Job]:
    return list(
        Job.objects.filter(status=Status.RUNNING)
        .only(
            "uuid", "kind", "queue", "started_at", "heartbeat_at", "worker", "progress_done", "progress_total"
        )
        .order_by("started_at")[:limit]
    )


def dead_letters(*, limit: int = 25) -> list[Job]:
    return list(
        Job.objects.filter(status=Status.DEAD)
        .only("uuid", "kind", "queue", "finished_at", "error", "attempts")
        .order_by("-finished_at")[:limit]
    )


def dead_letters_since(*, since: datetime) -> int:
    return Job.objects.filter(status=Status.DEAD, finished_at__gte=since).count()


def worker_clusters() -> list[dict] | None:
    """Live django-q2 clusters (their stats expire within seconds of a cluster stopping).

    None without Redis: the database broker keeps cluster stats in each process's own
    cache, which another process cannot read. A cluster's queue is not in its stats; it
    is named from the jobs its worker processes ran, when any did.
    """
    if not settings.REDIS_URL:
        return None
    stats = worker_cluster_stats()
    if not stats:
        return []
    workers_by_pid = {}
    hosts_pids = [f"{stat.host}:{pid}" for stat in stats for pid in stat.workers]
    for worker, queue in (
        Job.objects.filter(worker__in=hosts_pids).values_list("worker", "queue").distinct().order_by()[:500]
    ):
        workers_by_pid.setdefault(worker, set()).add(queue)
    clusters = []
    for stat in stats:
        queues = set()
        for pid in stat.workers:
            queues |= workers_by_pid.get(f"{stat.host}:{pid}", set())
        clusters.append(
            {
                "cluster_id": str(stat.cluster_id),
                "host": stat.host,
                "pid": stat.pid,
                "status": stat.status,
                "workers": len(stat.workers),
                "uptime_seconds": round(stat.uptime(), 1) if getattr(stat, "tob", None) else None,
                "queues": sorted(queues),
            }
        )
    return sorted(clusters, key=lambda c: (c["host"], c["pid"]))


def expected_clusters() -> int:
    return sum(1 for count in settings.JOBS_WORKERS.values() if count > 0)
