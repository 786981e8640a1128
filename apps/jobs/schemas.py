"""What the jobs API takes in and gives out. A job's public ``id`` is its UUID."""

import datetime
from typing import Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.urls import reverse
from ninja import Field, Schema
from pydantic import field_validator

from apps.core.api import CursorPageOut
from apps.jobs.models import WAITING_STATUSES, Job, Queue, Status

JobStatus = Literal[tuple(Status.values)]  # type: ignore[valid-type]
JobQueue = Literal[tuple(Queue.values)]  # type: ignore[valid-type]

# The most ids one polling request may ask for.
MAX_IDS = 100


class JobIn(Schema):
    kind: str = Field(description="A job kind from `GET /api/jobs/kinds`.", max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, description="The kind's parameters.")
    queue: JobQueue | None = Field(
        None,
        description="Run on this queue instead of the kind's own: the kind's queue or a lower one "
        "(low < default < high); staff may choose any.",
    )
    run_at: datetime.datetime | None = Field(
        None,
        description="Run no earlier than this time (ISO 8601 with a timezone; at most "
        "JOBS_MAX_SCHEDULE_DAYS ahead); default, or a time already past: now.",
    )
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Submitting again with the same key returns the first job instead of a new one.",
    )
    webhook_url: str | None = Field(
        None, max_length=500, description="An http(s) URL to POST a signed event to when the job ends."
    )

    @field_validator("run_at")
    @classmethod
    def run_at_has_timezone(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a timezone, e.g. 2030-01-01T12:00:00Z")
        return value

    @field_validator("webhook_url")
    @classmethod
    def webhook_url_is_http(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            URLValidator(schemes=["http", "https"])(value)
        except DjangoValidationError:
            raise ValueError("must be an http:// or https:// URL") from None
        return value


class JobListQuery(Schema):
    ids: str | None = Field(
        None,
        description=f"Comma-separated job ids (at most {MAX_IDS}): these jobs only, in this order; "
        "ids you cannot see are left out. Not combinable with the other filters.",
    )
    status: JobStatus | None = Field(None, description="Only jobs in this status.")
    kind: str | None = Field(None, max_length=100, description="Only jobs of this kind.")
    queue: JobQueue | None = Field(None, description="Only jobs on this queue.")
    limit: int | None = Field(
        None, ge=1, description="Page size; defaults to API_PAGE_SIZE and is capped at API_MAX_PAGE_SIZE."
    )
    cursor: str | None = Field(None, description="The `next` value of the previous page.")


class ProgressOut(Schema):
    done: int
    total: int | None
    percent: float | None
    message: str
    eta_seconds: float | None = Field(description="Remaining seconds at the rate seen so far, if known.")


def _absolute(context: Any, path: str) -> str:
    request = (context or {}).get("request")
    return request.build_absolute_uri(path) if request is not None else path


class JobOut(Schema):
    id: UUID = Field(alias="uuid")
    kind: str
    queue: str
    status: JobStatus
    attempts: int
    max_attempts: int
    progress: ProgressOut
    result: Any = None
    error: str
    cancel_requested: bool = Field(description="A cancel was asked for; a running job stops soon.")
    created_at: datetime.datetime
    run_at: datetime.datetime | None = Field(description="When a scheduled job or a pending retry is due.")
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    url: str = Field(description="This job in the API.")
    page_url: str = Field(description="This job's status page.")

    @staticmethod
    def resolve_progress(obj: Job) -> dict:
        return {
            "done": obj.progress_done,
            "total": obj.progress_total,
            "percent": obj.percent,
            "message": obj.progress_message,
            "eta_seconds": obj.eta_seconds,
        }

    @staticmethod
    def resolve_run_at(obj: Job) -> datetime.datetime | None:
        # Once a job runs or ends, the last run_at it had is history, not a plan.
        return obj.run_at if obj.status in WAITING_STATUSES else None

    @staticmethod
    def resolve_cancel_requested(obj: Job) -> bool:
        return obj.cancel_requested_at is not None

    @staticmethod
    def resolve_url(obj: Job, context: Any) -> str:
        return _absolute(context, reverse("api:job_detail", kwargs={"job_id": obj.uuid}))

    @staticmethod
    def resolve_page_url(obj: Job, context: Any) -> str:
        return _absolute(context, reverse("jobs:detail", args=[obj.uuid]))


class JobAttemptOut(Schema):
    number: int
    outcome: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    error: str
    retry_delay: float | None = Field(description="Seconds waited before the next attempt, if any.")


class JobDetailOut(JobOut):
    params: dict[str, Any]
    log: list[str]
    history: list[JobAttemptOut] = Field(description="Every attempt so far, retries and replays included.")

    @staticmethod
    def resolve_history(obj: Job) -> list:
        return list(obj.attempt_history.all())


class JobPageOut(CursorPageOut[JobOut]):
    pass


class JobKindOut(Schema):
    name: str
    description: str
    queue: str
    public: bool = Field(description="Anyone may submit it; other kinds are for staff only.")
    max_attempts: int
    timeout: int = Field(description="Seconds one attempt may run.")
    params_schema: dict[str, Any] = Field(description="JSON Schema of the kind's `params`.")

    @staticmethod
    def resolve_params_schema(obj, context: Any) -> dict:
        # Non-staff see the bounds their own submits are checked with.
        request = (context or {}).get("request")
        staff = request is not None and request.user.is_staff
        return obj.params_for(staff=staff).model_json_schema()
