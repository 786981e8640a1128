"""A report run: one request for a report (or export), its job and the file it produced."""

import uuid

from django.conf import settings
from django.db import models


class Format(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"


CONTENT_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# A run's state from its job's status while it has no file.
RUN_STATES = {
    "scheduled": "queued",
    "queued": "queued",
    "running": "running",
    "failed": "retrying",
    "dead": "failed",
    "cancelled": "cancelled",
    # Succeeded but without a file: only between the job's end and the run's update.
    "succeeded": "running",
}


class ReportRun(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    report = models.CharField(max_length=100, help_text="Name in the report catalog")
    params = models.JSONField(default=dict, blank=True)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.CSV)
    # The job that generates the file. Jobs are pruned after JOBS_RETENTION_DAYS; the run
    # (and its file, until it expires) outlives it.
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="report_run"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_runs",
    )
    # Name of the file in the default storage; "" until written, and again once expired.
    file_name = models.CharField(max_length=300, blank=True)
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes")
    rows = models.BigIntegerField(null=True, blank=True, help_text="Data rows, without the header")
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the file, hex")
    created_at = models.DateTimeField(auto_now_add=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="When the file is deleted")
    expired_at = models.DateTimeField(null=True, blank=True, help_text="When the file was deleted")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="reportrun_owner_created_idx"),
            # The hourly clean-up: files past their expiry that still exist.
            models.Index(
                fields=["expires_at"], name="reportrun_expires_idx", condition=~models.Q(file_name="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report} {self.uuid}"

    @property
    def request(self) -> dict:
        """What was asked for: the report, its parameters (as validated) and the format."""
        return {"report": self.report, "params": self.params, "format": self.format}

    @property
    def state(self) -> str:
        """ready, expired, or the state of its job: queued, running, retrying, failed, cancelled."""
        if self.expired_at is not None:
            return "expired"
        if self.file_name:
            return "ready"
        status = self.job.status if self.job is not None else "dead"
        return RUN_STATES.get(status, status)

    @property
    def is_final(self) -> bool:
        return self.state in ("ready", "expired", "failed", "cancelled")

    @property
    def is_ready(self) -> bool:
        return bool(self.file_name) and self.expired_at is None

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[Format(self.format)]

    @property
    def download_name(self) -> str:
        stamp = (self.generated_at or self.created_at).strftime("%Y%m%d-%H%M%S")
        return f"{self.report}-{stamp}.{self.format}"
