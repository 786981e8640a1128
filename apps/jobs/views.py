"""Job pages: the list of jobs and one job's status, kept live by htmx polling.

Without JavaScript a plain reload shows the current state. With htmx, a page polls only
while something on it can still change, in one request per poll:

- the detail page polls its own URL, which answers htmx requests with the live part;
- the list page polls ``/jobs/poll?ids=…`` for all of its unfinished jobs at once and
  gets their changing cells back as out-of-band swaps.

Each poll sends the ETag of what it shows (apps.core.live); an unchanged job answers 304
with no body, and htmx (configured in jobs/_htmx.html) swaps nothing.
"""

import json
from collections.abc import Callable, Iterable
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.access import login_required_htmx, safe_next_url
from apps.core.live import live_etag, live_response, poll_headers
from apps.core.pagination import NEWEST_FIRST, keyset_page
from apps.jobs import selectors, services
from apps.jobs.errors import JobInputError, JobStateError
from apps.jobs.forms import JobFilterForm
from apps.jobs.models import Job, Status
from apps.jobs.registry import kind_find

JOBS_PER_PAGE = 25
POLL_MAX_IDS = 100
# Seconds between polls: a job about to move is watched closely; one waiting for its
# scheduled time or its next retry (minutes away, maybe) is not.
POLL_EVERY_ACTIVE = 1
POLL_EVERY_WAITING = 5


def _poll_every(jobs: Iterable[Job]) -> int | None:
    """Seconds until the next poll, or None when nothing shown can change any more."""
    statuses = {job.status for job in jobs if not job.is_final}
    if not statuses:
        return None
    if statuses & {Status.QUEUED, Status.RUNNING}:
        return POLL_EVERY_ACTIVE
    return POLL_EVERY_WAITING


def _row_state(job: Job) -> tuple:
    """Everything a row of the list shows that can change."""
    return (
        str(job.uuid),
        job.status,
        job.updated_at,
        job.progress_done,
        job.progress_total,
        job.progress_message,
        job.attempts,
        job.max_attempts,
        job.finished_at,
        job.cancel_requested_at,
    )


def _detail_state(job: Job) -> tuple:
    """Everything the live part of the detail page shows that can change.

    The runner writes progress, log and heartbeats without touching updated_at, so
    those columns are part of the tag themselves.
    """
    log = job.log or []
    return (
        *_row_state(job),
        eta_text(job.eta_seconds),
        job.started_at,
        len(log),
        log[-1] if log else "",
    )


def eta_text(seconds: float | None) -> str:
    """``about 12 s left``, ``about 3 min left``, ``about 2 h left``; "" when unknown."""
    if seconds is None:
        return ""
    if seconds < 90:
        return f"about {max(round(seconds), 1)} s left"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


# --- List ------------------------------------------------------------------------------


def _poller_context(request: HttpRequest, jobs: list[Job]) -> dict:
    """The hidden element that polls for all unfinished jobs of a list page at once."""
    live = [job for job in jobs if not job.is_final]
    every = _poll_every(live)
    if every is None:
        return {"poll_url": None}
    ids = ",".join(str(job.uuid) for job in live)
    etag = live_etag(request.user, "list", *(_row_state(job) for job in live))
    return {
        "poll_url": f"{reverse('jobs:poll')}?ids={ids}",
        "poll_every": every,
        "poll_headers": poll_headers(etag),
    }


@login_required_htmx
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    form = JobFilterForm(request.GET)
    jobs, newer, older = None, None, None
    if form.is_valid():
        queryset = selectors.jobs_list_for_user(
            user=request.user,
            status=form.cleaned_data["status"] or None,
            kind=form.cleaned_data["kind"] or None,
            queue=form.cleaned_data["queue"] or None,
        )
        after = NEWEST_FIRST.key_or_none(request.GET.get("after"))
        # A link carries one of the two; "after" wins if someone writes both.
        before = None if after else NEWEST_FIRST.key_or_none(request.GET.get("before"))
        page = keyset_page(queryset, keyset=NEWEST_FIRST, size=JOBS_PER_PAGE, after=after, before=before)
        jobs, newer, older = page.rows, page.previous_cursor, page.next_cursor
    context = {
        "form": form,
        "jobs": jobs,
        "newer_cursor": newer,
        "older_cursor": older,
        "show_owner": request.user.is_staff,
        "filtered": any(request.GET.get(name) for name in form.fields),
        **_poller_context(request, jobs or []),
    }
    return render(request, "jobs/job_list.html", context)


def _uuids(raw: str) -> list[UUID]:
    ids = []
    for part in raw.split(",")[:POLL_MAX_IDS]:
        try:
            ids.append(UUID(part.strip()))
        except ValueError:
            continue
    return ids


@login_required_htmx
@require_GET
def jobs_poll(request: HttpRequest) -> HttpResponse:
    """The changing cells of several list rows, as out-of-band swaps: one request per poll.

    Jobs that are unknown or not the user's are left out; finished ones are sent once
    more (their final state) and then no longer polled.
    """
    ids = _uuids(request.GET.get("ids", ""))
    jobs = selectors.jobs_by_ids_for_user(user=request.user, job_ids=ids) if ids else []
    # The order of the page that asked, so that the tag matches the one it rendered.
    position = {job_id: index for index, job_id in enumerate(ids)}
    jobs.sort(key=lambda job: position[job.uuid])
    etag = live_etag(request.user, "list", *(_row_state(job) for job in jobs))
    return live_response(
        request,
        lambda: render(request, "jobs/_poll.html", {"jobs": jobs, **_poller_context(request, jobs)}),
        etag=etag,
    )


# --- Detail ----------------------------------------------------------------------------


def _kind_public(name: str) -> bool:
    """Users run again only what they may submit (services.job_retry says the same)."""
    kind = kind_find(name)
    return kind is not None and kind.public


@login_required_htmx
@require_GET
def job_detail(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """The whole page; for an htmx poll, only its live part (or 304 if unchanged)."""
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    etag = live_etag(request.user, "detail", *_detail_state(job))
    # An htmx poll gets the live part, tagged (304 when unchanged); a visit, the whole page.
    return live_response(
        request, lambda: _detail_page(request, job, etag), etag=etag if request.htmx else None
    )


def _detail_page(request: HttpRequest, job: Job, etag: str) -> HttpResponse:
    context = {
        "job": job,
        "attempts": list(job.attempt_history.all()),
        "eta": eta_text(job.eta_seconds),
        "params_json": json.dumps(job.params, sort_keys=True),
        "result_json": json.dumps(job.result, indent=2, sort_keys=True),
        # A kind's own rendering of its result (<app>/job_results/<name>.html), else JSON.
        "result_templates": [f"{job.kind.replace('.', '/job_results/', 1)}.html", "jobs/_result.html"],
        "cancel_grace": settings.JOBS_CANCEL_GRACE,
        "show_traceback": request.user.is_staff or job.owner_id == request.user.pk,
        "can_cancel": not job.is_final,
        "can_retry": job.status in (Status.DEAD, Status.CANCELLED, Status.FAILED)
        and (request.user.is_staff or _kind_public(job.kind)),
        "poll_every": None if job.is_final else _poll_every([job]),
        "poll_headers": poll_headers(etag),
        "show_owner": request.user.is_staff,
    }
    template = "jobs/_job_live.html" if request.htmx else "jobs/job_detail.html"
    return render(request, template, context)


def _job_action(
    request: HttpRequest,
    job_id: UUID,
    action: Callable[..., Job],
    *,
    refused: str,
    told: Callable[[Job], tuple[int, str]],
) -> HttpResponse:
    """Do ``action`` (a jobs service) to the user's job, say how it went (``told(job)``: a
    message level and text), and go back to the page the form was on (or the job's page)."""
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    try:
        job = action(job=job, by=request.user)
    except (JobStateError, JobInputError) as exc:
        # Not allowed for this user, over their quota, or the job's state moved on.
        messages.error(request, f"{refused}: {exc}")
    else:
        messages.add_message(request, *told(job))
    return redirect(safe_next_url(request, reverse("jobs:detail", args=[job.uuid])))


def _cancel_told(job: Job) -> tuple[int, str]:
    # Said as what happened, never as a state the page may have left by the time it
    # shows: the live part says whether the job is still stopping.
    if job.status == Status.CANCELLED:
        return messages.SUCCESS, "Job cancelled."
    return messages.INFO, "Cancel requested."


@login_required_htmx
@require_POST
def job_cancel(request: HttpRequest, job_id: UUID) -> HttpResponse:
    return _job_action(request, job_id, services.job_cancel, refused="Cannot cancel", told=_cancel_told)


@login_required_htmx
@require_POST
def job_retry(request: HttpRequest, job_id: UUID) -> HttpResponse:
    return _job_action(
        request,
        job_id,
        services.job_retry,
        refused="Cannot retry",
        told=lambda job: (messages.SUCCESS, "Job submitted again."),
    )
