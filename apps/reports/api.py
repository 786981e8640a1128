"""The reports JSON API: the catalog, submitting a run, listing, watching and downloading runs.

A run's public ``id`` is its UUID. Users see their own runs (another user's is a 404),
staff see all.
"""

import datetime
import functools
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import TypeAdapter

from apps.core.api import ERRORS, CursorPageOut, ErrorOut, TooManyRequests, ids_parsed, page_limit
from apps.core.caching import JsonBody, json_response
from apps.core.pagination import NEWEST_FIRST, keyset_page, next_page_url
from apps.jobs.errors import JobQuotaExceeded
from apps.reports import selectors, services
from apps.reports.catalog import REPORTS, ReportDefinition
from apps.reports.downloads import run_file_response, run_not_ready_text
from apps.reports.models import Format, ReportRun

router = Router(tags=["reports"])


class ColumnOut(Schema):
    name: str
    kind: str


class ReportOut(Schema):
    name: str
    title: str
    description: str
    formats: list[str]
    columns: list[ColumnOut]
    defaults: dict[str, Any]
    params_schema: dict[str, Any] = Field(description="JSON Schema of the parameters.")


class RunIn(Schema):
    report: str = Field(description="A report name from `GET /api/reports/catalog`.", max_length=100)
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters; unset ones take defaults.")
    format: str = Field(Format.CSV, description="csv or xlsx (exports: csv).")


class RunJobOut(Schema):
    id: UUID
    status: str
    progress_done: int
    progress_total: int | None
    progress_message: str
    error: str
    url: str


class RunOut(Schema):
    id: UUID
    report: str
    params: dict[str, Any]
    format: str
    state: str = Field(description="queued, running, retrying, ready, failed, cancelled or expired.")
    rows: int | None
    size: int | None
    sha256: str
    created_at: datetime.datetime
    generated_at: datetime.datetime | None
    expires_at: datetime.datetime
    job: RunJobOut | None
    url: str
    page_url: str
    download_url: str | None


def _report_out(definition: ReportDefinition) -> dict:
    return {
        "name": definition.name,
        "title": definition.title,
        "description": definition.description,
        "formats": list(definition.formats),
        "columns": [{"name": c.name, "kind": c.kind} for c in definition.columns],
        "defaults": definition.defaults(),
        "params_schema": definition.params.model_json_schema(),
    }


def _run_out(request: HttpRequest, run: ReportRun) -> dict:
    job = run.job
    return {
        "id": run.uuid,
        "report": run.report,
        "params": run.params,
        "format": run.format,
        "state": run.state,
        "rows": run.rows,
        "size": run.size,
        "sha256": run.checksum,
        "created_at": run.created_at,
        "generated_at": run.generated_at,
        "expires_at": run.expires_at,
        "job": None
        if job is None
        else {
            "id": job.uuid,
            "status": job.status,
            "progress_done": job.progress_done,
            "progress_total": job.progress_total,
            "progress_message": job.progress_message,
            "error": job.error,
            "url": request.build_absolute_uri(reverse("api:job_detail", kwargs={"job_id": job.uuid})),
        },
        "url": request.build_absolute_uri(reverse("api:report_run", kwargs={"run_id": run.uuid})),
        "page_url": request.build_absolute_uri(reverse("reports:run", args=[run.uuid])),
        "download_url": request.build_absolute_uri(
            reverse("api:report_run_download", kwargs={"run_id": run.uuid})
        )
        if run.is_ready
        else None,
    }


@functools.cache
def _catalog_json() -> JsonBody:
    # The catalog is code (the parameters' JSON Schemas took ~4 ms to build per request):
    # serialized once per process, with its ETag.
    reports = TypeAdapter(list[ReportOut]).validate_python([_report_out(d) for d in REPORTS.values()])
    return JsonBody.of(TypeAdapter(list[ReportOut]).dump_json(reports, by_alias=True))


@router.get("/catalog", response={200: list[ReportOut], **ERRORS}, summary="Reports you can run")
def catalog(request: HttpRequest):
    return json_response(request, _catalog_json())


@router.post(
    "",
    response={201: RunOut, 202: RunOut, 429: ErrorOut, **ERRORS},
    summary="Run a report",
    description="Validates the request and queues a job that writes the file (202). Poll `url` (also "
    "in the `Location` header) until `state` is `ready`, then GET `download_url`. Non-staff users may "
    "have at most REPORTS_USER_MAX_ACTIVE runs waiting or running (429 with `Retry-After` when over). "
    "With REPORTS_INLINE on, the file is written within the request and the run comes back ready (201).",
)
def submit_run(request: HttpRequest, payload: RunIn, response: HttpResponse):
    try:
        run = services.report_run_request(
            owner=request.user, report=payload.report, params=payload.params, format=payload.format
        )
    except JobQuotaExceeded as exc:
        raise TooManyRequests(str(exc), retry_after=exc.retry_after) from None
    except services.ReportInputError as exc:
        raise HttpError(422, str(exc)) from None
    out = _run_out(request, run)
    response["Location"] = out["url"]
    return Status(201 if run.is_ready else 202, out)


# The most runs one polling request may ask for by id.
RUN_MAX_IDS = 100


class RunListQuery(Schema):
    ids: str | None = Field(
        None,
        description=f"Comma-separated run ids (at most {RUN_MAX_IDS}): these runs only, in this order; "
        "ids you cannot see are left out. Not combinable with the other parameters.",
    )
    report: str | None = Field(None, max_length=100, description="Only runs of this report.")
    limit: int | None = Field(
        None, ge=1, description="Page size; defaults to API_PAGE_SIZE and is capped at API_MAX_PAGE_SIZE."
    )
    cursor: str | None = Field(None, description="The `next` value of the previous page.")


class RunPageOut(CursorPageOut[RunOut]):
    pass


@router.get(
    "",
    response={200: RunPageOut, **ERRORS},
    summary="Your report runs, newest first (staff: everybody's), or several by id",
    description="With `ids`, one request polls several runs (a page watching its runs): the runs "
    "you may see among them, in the order asked, on one page (`next` is null); an id that is "
    "unknown or another user's is simply absent. Without it, keyset pages newest first.",
)
def list_runs(request: HttpRequest, query: Query[RunListQuery]):
    if query.ids is not None:
        others = [name for name in ("report", "limit", "cursor") if getattr(query, name) is not None]
        if others:
            raise HttpError(422, f"Invalid input: ids cannot be combined with {', '.join(others)}.")
        ids = ids_parsed(query.ids, noun="report run", plural="runs", most=RUN_MAX_IDS)
        runs = selectors.report_runs_by_ids_for_user(user=request.user, run_ids=ids)
        by_id = {run.uuid: run for run in runs}
        items = [_run_out(request, by_id[run_id]) for run_id in ids if run_id in by_id]
        return {"items": items, "next": None, "next_url": None}
    # A cursor no page issued is a 422 (InvalidCursor, apps.core.api).
    after = NEWEST_FIRST.decode(query.cursor) if query.cursor else None
    runs = selectors.report_runs_list_for_user(user=request.user)
    if query.report:
        runs = runs.filter(report=query.report)
    page = keyset_page(runs, keyset=NEWEST_FIRST, size=page_limit(query.limit), after=after)
    next_url = next_page_url(
        request.build_absolute_uri(request.path), query.model_dump(exclude_none=True), page.next_cursor
    )
    return {
        "items": [_run_out(request, run) for run in page.rows],
        "next": page.next_cursor,
        "next_url": next_url,
    }


@router.get(
    "/{run_id}",
    response={200: RunOut, **ERRORS},
    summary="A report run: state, progress and file",
    url_name="report_run",
)
def get_run(request: HttpRequest, run_id: str):
    return _run_out(request, selectors.report_run_get_for_user(user=request.user, run_id=run_id))


@router.get(
    "/{run_id}/download",
    response={200: None, 409: ErrorOut, **ERRORS},
    summary="Download a run's file (streamed)",
    url_name="report_run_download",
)
def download_run(request: HttpRequest, run_id: str):
    run = selectors.report_run_get_for_user(user=request.user, run_id=run_id)
    if not run.is_ready:
        raise HttpError(409, run_not_ready_text(run))
    return run_file_response(run)
