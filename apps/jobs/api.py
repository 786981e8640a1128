"""The jobs JSON API: submit, watch, cancel and replay background jobs.

Users see and act on their own jobs only (another user's job is a 404, never a 403);
staff see all of them. Non-staff may submit only the kinds marked ``public``.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Query, Router, Status
from ninja.errors import HttpError

from apps.core.api import ERRORS, ErrorOut, TooManyRequests, ids_parsed, page_limit
from apps.core.pagination import NEWEST_FIRST, next_page_url
from apps.jobs import selectors, services
from apps.jobs.errors import (
    JobIdempotencyConflict,
    JobInputError,
    JobNotAllowed,
    JobQuotaExceeded,
    JobStateError,
    UnknownJobKind,
)
from apps.jobs.registry import kinds_submittable
from apps.jobs.schemas import (
    MAX_IDS,
    JobDetailOut,
    JobIn,
    JobKindOut,
    JobListQuery,
    JobOut,
    JobPageOut,
)

router = Router(tags=["jobs"])


def _refusal(exc: JobInputError | JobStateError) -> HttpError:
    """The answer to a submit, cancel or replay that the jobs services refused."""
    if isinstance(exc, JobQuotaExceeded):
        return TooManyRequests(str(exc), retry_after=exc.retry_after)
    if isinstance(exc, JobNotAllowed):
        return HttpError(403, str(exc))
    if isinstance(exc, JobStateError | JobIdempotencyConflict):
        return HttpError(409, str(exc))
    if isinstance(exc, UnknownJobKind):
        return HttpError(
            422, f"Unknown job kind {exc.name!r}; GET /api/jobs/kinds lists the ones you may submit."
        )
    return HttpError(422, str(exc))


@router.get("/kinds", response={200: list[JobKindOut], 401: ErrorOut}, summary="Job kinds you may submit")
def list_kinds(request: HttpRequest):
    return kinds_submittable(staff=request.user.is_staff)


@router.post(
    "",
    response={202: JobOut, 403: ErrorOut, 409: ErrorOut, 429: ErrorOut, **ERRORS},
    summary="Submit a job",
    description="Accepted jobs run in the background: poll the returned `url` (also in the "
    "`Location` header) or open `page_url`. `run_at` may be at most JOBS_MAX_SCHEDULE_DAYS ahead. "
    "Non-staff users may choose the kind's own queue or a lower one, and have at most "
    "JOBS_USER_MAX_ACTIVE jobs waiting or running (429 with `Retry-After` when over).",
)
def submit_job(request: HttpRequest, payload: JobIn, response: HttpResponse):
    try:
        job = services.enqueue(
            payload.kind,
            params=payload.params,
            owner=request.user,
            queue=payload.queue,
            run_at=payload.run_at,
            idempotency_key=payload.idempotency_key,
            webhook_url=payload.webhook_url or "",
            user_submitted=True,
        )
    except JobInputError as exc:
        raise _refusal(exc) from None
    response["Location"] = request.build_absolute_uri(reverse("api:job_detail", kwargs={"job_id": job.uuid}))
    return Status(202, job)


@router.get(
    "",
    response={200: JobPageOut, **ERRORS},
    summary="List your jobs, newest first, or fetch several by id",
)
def list_jobs(request: HttpRequest, query: Query[JobListQuery]):
    if query.ids is not None:
        others = [name for name in ("status", "kind", "queue", "cursor") if getattr(query, name)]
        if others:
            raise HttpError(422, f"Invalid input: ids cannot be combined with {', '.join(others)}.")
        ids = ids_parsed(query.ids, noun="job", plural="jobs", most=MAX_IDS)
        by_id = {job.uuid: job for job in selectors.jobs_by_ids_for_user(user=request.user, job_ids=ids)}
        return {"items": [by_id[job_id] for job_id in ids if job_id in by_id], "next": None, "next_url": None}

    page = selectors.jobs_page_for_user(
        user=request.user,
        status=query.status,
        kind=query.kind,
        queue=query.queue,
        limit=page_limit(query.limit),
        # A cursor no page issued is a 422 (InvalidCursor, apps.core.api).
        after=NEWEST_FIRST.decode(query.cursor) if query.cursor else None,
    )
    base = request.build_absolute_uri(request.path)
    next_url = next_page_url(base, request.GET.dict(), page.next_cursor)
    return {"items": page.rows, "next": page.next_cursor, "next_url": next_url}


@router.get(
    "/{job_id}",
    response={200: JobDetailOut, **ERRORS},
    summary="A job: status, progress, result, attempts and log",
    description="Your own job (staff: anyone's). Another user's job answers 404, as an unknown "
    "id does. Poll it until `status` is succeeded, dead or cancelled.",
    url_name="job_detail",
)
def get_job(request: HttpRequest, job_id: str):
    return selectors.job_get_for_user(user=request.user, job_id=job_id)


@router.post(
    "/{job_id}/cancel",
    response={200: JobOut, 409: ErrorOut, **ERRORS},
    summary="Cancel a job",
    description="A waiting job is cancelled at once; a running one is asked to stop "
    "(`cancel_requested` is true until it does).",
)
def cancel_job(request: HttpRequest, job_id: str):
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    try:
        return services.job_cancel(job=job, by=request.user)
    except JobStateError as exc:
        raise _refusal(exc) from None


@router.post(
    "/{job_id}/retry",
    response={202: JobOut, 403: ErrorOut, 409: ErrorOut, 429: ErrorOut, **ERRORS},
    summary="Retry a failed job now, or replay a dead or cancelled one",
)
def retry_job(request: HttpRequest, job_id: str):
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    try:
        return Status(202, services.job_retry(job=job, by=request.user))
    except (JobInputError, JobStateError) as exc:
        raise _refusal(exc) from None
