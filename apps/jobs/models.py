"""Tracked background jobs. The Job row is the source of truth; the broker is a fast path."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.pg_timestamps import READABLE_MAX, READABLE_MIN


# Labels are Django's, from the member's name ("Scheduled"), where no other is given.
class Status(models.TextChoices):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed", "Failed, retry pending"
    DEAD = "dead"
    CANCELLED = "cancelled"


FINAL_STATUSES = (Status.SUCCEEDED, Status.DEAD, Status.CANCELLED)
WAITING_STATUSES = (Status.SCHEDULED, Status.QUEUED, Status.FAILED)
# Waiting or running: what a user's quota counts.
ACTIVE_STATUSES = (*WAITING_STATUSES, Status.RUNNING)


class Queue(models.TextChoices):
    # The scheduled and internal kinds (roll-ups, alerts, prunes): no user can put a job
    # here, so nobody's backlog delays them.
    SYSTEM = "system", "System"
    HIGH = "high", "High"
    DEFAULT = "default", "Default"
    LOW = "low", "Low"


# Higher runs sooner: a user may choose a kind's own queue or a lower one (staff: any).
QUEUE_RANK = {Queue.LOW: 0, Queue.DEFAULT: 1, Queue.HIGH: 2, Queue.SYSTEM: 3}


class Job(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=100)
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.DEFAULT)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)

    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_message = models.CharField(max_length=500, blank=True)

    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    timeout = models.PositiveIntegerField(help_text="Seconds one attempt may run.")

    # job_owner_created_idx (owner, -created_at) serves lookups by owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        db_index=False,
    )
    # NULL, not "", when absent: the unique constraints must ignore jobs without a key.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    webhook_url = models.URLField(max_length=500, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    # When a scheduled job, or the next retry of a failed one, is due.
    run_at = models.DateTimeField(null=True, blank=True)
    # The last time the job was handed to the broker; the dispatcher republishes from it.
    published_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    worker = models.CharField(max_length=200, blank=True, help_text="host:pid holding the job")
    log = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False, owner__isnull=False),
                name="job_owner_idempotency_uniq",
            ),
            # System jobs (schedules) have no owner; NULLs never collide, so key them alone.
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False, owner__isnull=True),
                name="job_system_idempotency_uniq",
            ),
            # The services bound run_at far tighter (JOBS_MAX_SCHEDULE_DAYS); this keeps
            # any writer, raw SQL included, from storing a time that cannot be read back.
            models.CheckConstraint(
                condition=Q(run_at__isnull=True) | Q(run_at__gte=READABLE_MIN, run_at__lte=READABLE_MAX),
                name="job_run_at_readable",
            ),
        ]
        # Every state change rewrites the row and each index entry it has, so the
        # dispatcher's indexes are partial: a job is in at most one of them at a time.
        indexes = [
            models.Index(
                fields=["run_at"],
                condition=Q(status__in=[Status.SCHEDULED, Status.FAILED]),
                name="job_due_idx",
            ),
            models.Index(
                fields=["heartbeat_at"], condition=Q(status=Status.RUNNING), name="job_running_heartbeat_idx"
            ),
            models.Index(
                fields=["queue", "published_at"], condition=Q(status=Status.QUEUED), name="job_queued_idx"
            ),
            models.Index(
                fields=["finished_at"], condition=Q(status__in=FINAL_STATUSES), name="job_finished_idx"
            ),
            # Pages and dashboards.
            models.Index(fields=["owner", "-created_at"], name="job_owner_created_idx"),
            models.Index(fields=["kind", "status"], name="job_kind_status_idx"),
            # Per-user quotas count a user's waiting and running jobs by kind on each submit.
            models.Index(
                fields=["owner", "kind"], condition=Q(status__in=ACTIVE_STATUSES), name="job_owner_active_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.uuid}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def percent(self) -> float | None:
        if self.status == Status.SUCCEEDED:
            return 100.0
        if not self.progress_total:
            return None
        return round(min(100.0, 100.0 * self.progress_done / self.progress_total), 1)

    @property
    def progress_figures(self) -> str:
        """The progress figures in words that agree with ``percent``: "250 of 1,000 (25%)";
        a job that ended without a total is "done" with what it counted, never "100%" of
        an unknown total."""
        if self.progress_total:
            return f"{self.progress_done:,} of {self.progress_total:,} ({self.percent:g}%)"
        if self.status == Status.SUCCEEDED:
            return f"done ({self.progress_done:,} counted, no total reported)"
        if self.progress_done:
            return f"{self.progress_done:,} so far (no total reported)"
        return "none reported"

    @property
    def eta_seconds(self) -> float | None:
        """Remaining time at the rate seen so far in this attempt."""
        if self.status != Status.RUNNING or not self.progress_total or not self.started_at:
            return None
        if self.progress_done <= 0 or self.heartbeat_at is None:
            return None
        elapsed = (self.heartbeat_at - self.started_at).total_seconds()
        remaining = max(self.progress_total - self.progress_done, 0)
        return round(elapsed / self.progress_done * remaining, 1)


class JobAttempt(models.Model):
    """One run of a job: kept across retries and replays, so history is never lost."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        TIMED_OUT = "timed_out", "Timed out"
        LOST = "lost", "Worker lost"
        CANCELLED = "cancelled"

    # jobattempt_job_number_idx (job, number) serves lookups by job.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempt_history", db_index=False)
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)
    # The delay chosen before the next attempt (None when there was none).
    retry_delay = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "number", "id"]
        indexes = [models.Index(fields=["job", "number"], name="jobattempt_job_number_idx")]

    def __str__(self) -> str:
        return f"{self.job_id} attempt {self.number}: {self.outcome}"
