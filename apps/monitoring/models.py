"""Monitoring data: rolled-up metrics, slow queries and alert rules with their events.

Raw observations never reach the database one by one: processes keep histograms in
memory and flush them (to Redis, or straight here without Redis); a roll-up job merges
them into one MetricRollup row per series and minute, and an hourly fold keeps hours.
"""

from django.db import models
from django.db.models import Q


class MetricKind(models.TextChoices):
    REQUEST = "request", "Request duration"
    JOB_RUN = "job_run", "Job run time"
    JOB_WAIT = "job_wait", "Job wait (enqueue to start)"
    BROWSER_FCP = "browser_fcp", "First Contentful Paint"
    BROWSER_LCP = "browser_lcp", "Largest Contentful Paint"
    BROWSER_INP = "browser_inp", "Interaction to Next Paint"
    # CLS has no unit: it is stored in thousandths so that it shares the buckets.
    BROWSER_CLS = "browser_cls", "Cumulative Layout Shift (x1000)"
    BROWSER_TTFB = "browser_ttfb", "Time to first byte"
    BROWSER_LOAD = "browser_load", "Page load (navigation)"
    SLOW_QUERY = "slow_query", "Slow query (per endpoint or job)"


BROWSER_KINDS = (
    MetricKind.BROWSER_FCP,
    MetricKind.BROWSER_LCP,
    MetricKind.BROWSER_INP,
    MetricKind.BROWSER_CLS,
    MetricKind.BROWSER_TTFB,
    MetricKind.BROWSER_LOAD,
)

MINUTE = 60
HOUR = 3600


class MetricRollup(models.Model):
    """One series (kind + key, e.g. request "GET /jobs/<uuid:job_id>/") over one minute or hour.

    ``buckets`` is the sparse histogram {bucket index: count} of the values in
    milliseconds (apps.monitoring.histogram); counters merge by addition.
    """

    kind = models.CharField(max_length=20, choices=MetricKind.choices)
    key = models.CharField(max_length=300)
    resolution = models.PositiveIntegerField(help_text="Seconds: 60 (minute) or 3600 (hour).")
    start = models.DateTimeField()
    count = models.BigIntegerField(default=0)
    # Requests: 5xx responses; jobs: failed attempts (retries + dead).
    errors = models.BigIntegerField(default=0)
    client_errors = models.BigIntegerField(default=0, help_text="Requests answered 4xx.")
    total_ms = models.FloatField(default=0.0)
    max_ms = models.FloatField(default=0.0)
    queries = models.BigIntegerField(default=0)
    query_ms = models.FloatField(default=0.0)
    buckets = models.JSONField(default=dict)
    counters = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key", "resolution", "start"], name="metricrollup_series_uniq"
            )
        ]
        indexes = [models.Index(fields=["kind", "resolution", "start"], name="metricrollup_window_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} @ {self.start:%Y-%m-%d %H:%M} ({self.resolution}s)"


class SlowQuery(models.Model):
    """A statement, by fingerprint and the endpoint or job that ran it, that was slow or repeated."""

    class Source(models.TextChoices):
        REQUEST = "request", "Request"
        JOB = "job", "Job"

    fingerprint = models.CharField(max_length=40)
    source_kind = models.CharField(max_length=10, choices=Source.choices)
    source = models.CharField(max_length=300, help_text="Endpoint (method and route) or job kind.")
    normalized_sql = models.TextField()
    sample_sql = models.TextField(blank=True, help_text="The slowest run, with its values.")
    sample_ms = models.FloatField(default=0.0)
    database = models.CharField(max_length=50, default="default")
    vendor = models.CharField(max_length=20, blank=True)
    code_line = models.CharField(max_length=500, blank=True)

    calls = models.BigIntegerField(default=0, help_text="Captured runs (slow, or beyond the repeat limit).")
    total_ms = models.FloatField(default=0.0)
    max_ms = models.FloatField(default=0.0)
    slow_calls = models.BigIntegerField(default=0)
    nplus1_hits = models.BigIntegerField(default=0, help_text="Requests or jobs that repeated it too often.")
    max_repeats = models.PositiveIntegerField(default=0)

    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    plan = models.JSONField(null=True, blank=True)
    plan_error = models.TextField(blank=True)
    explained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "slow queries"
        constraints = [
            models.UniqueConstraint(fields=["fingerprint", "source_kind", "source"], name="slowquery_uniq")
        ]
        indexes = [
            models.Index(fields=["-last_seen"], name="slowquery_last_seen_idx"),
            models.Index(fields=["explained_at", "-sample_ms"], name="slowquery_explain_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.normalized_sql[:80]}"

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


class AlertMetric(models.TextChoices):
    ENDPOINT_P95_MS = "endpoint_p95_ms", "Endpoint p95 (ms), per endpoint"
    ERROR_RATE = "error_rate", "Server error rate (% of requests)"
    QUEUE_WAIT_P95_MS = "queue_wait_p95_ms", "Job wait p95 (ms), per queue"
    DEAD_LETTERS = "dead_letters", "Jobs moved to dead letters"
    JOB_FAILURE_RATE = "job_failure_rate", "Job failure rate (% of attempts)"
    REPLICA_LAG_S = "replica_lag_s", "Replica lag (s), per replica"
    WORKERS_MISSING = "workers_missing", "Worker clusters missing"
    SLOW_QUERY_RATE = "slow_query_rate", "Slow queries per minute"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertRule(models.Model):
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=30, choices=AlertMetric.choices)
    threshold = models.FloatField(help_text="Opens when the value is above this.")
    window_minutes = models.PositiveIntegerField(default=5)
    min_count = models.PositiveIntegerField(
        default=20, help_text="Ignore endpoints and queues with fewer events than this in the window."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return (
            f"{self.name} ({self.get_metric_display()} > {self.threshold:g} over {self.window_minutes} min)"
        )


class AlertEvent(models.Model):
    """One breach of a rule for one subject (an endpoint, a queue, a replica, or "all")."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    subject = models.CharField(max_length=300, default="all")
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    value_at_open = models.FloatField()
    last_value = models.FloatField()
    peak_value = models.FloatField()
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # At most one open event per rule and subject: a breach opens once.
            models.UniqueConstraint(
                fields=["rule", "subject"], condition=Q(resolved_at__isnull=True), name="alertevent_one_open"
            )
        ]
        indexes = [models.Index(fields=["resolved_at", "-opened_at"], name="alertevent_open_idx")]

    def __str__(self) -> str:
        return self.message

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class RedisOutage(models.Model):
    """One process's view of Redis being unreachable: when one of its circuits
    (apps.core.circuit: "cache", "broker", "metrics") opened, and when it closed again.

    Written to the database (the one store that is up), once per opening and closing and
    not per request; the overview merges the processes' rows into outages.
    """

    component = models.CharField(max_length=20)
    process = models.CharField(max_length=100, help_text="host:pid")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at"], name="redisoutage_started_idx")]

    def __str__(self) -> str:
        return f"Redis unreachable ({self.component}, {self.process}) from {self.started_at:%Y-%m-%d %H:%M}"
