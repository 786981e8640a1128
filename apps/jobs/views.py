"""Job pages: the list of jobs and one job's status, kept live by htmx polling.

Without JavaScript a plain reload shows the current state. With htmx, a page polls only
while something on it can still change, in one request per poll:

- the detail page polls its own URL, which answers htmx requests with the live part;
- the list page polls ``/jobs/poll`` for all of its unfinished jobs at once (the ids its
  rows carry) and, on its newest page, for the jobs created since: it gets the changing
  cells and the new rows back as out-of-band swaps. It scrolls endlessly (the next keyset
  page as its last row is revealed) and submits jobs from a form of its own.

Each poll sends the ETag of what it shows (apps.core.live); an unchanged job answers 304
with no body, and htmx (configured in jobs/_htmx.html) swaps nothing.
"""

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.access import login_required_htmx, safe_next_url
from apps.core.live import live_etag, live_response, poll_headers
from apps.core.pagination import NEWEST_FIRST
from apps.jobs import selectors, services
from apps.jobs.errors import JobInputError, JobStateError
from apps.jobs.forms import JobFilterForm, JobSubmitForm
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

# An empty list knows no job yet: every job its filters match is new to it.
EMPTY_LIST_KEY = (datetime(1970, 1, 1, tzinfo=UTC), 1)


def _poller_context(
    request: HttpRequest, filters: JobFilterForm, jobs: list[Job], *, since: str | None, more: bool = False
) -> dict:
    """The hidden element that polls, in one request, for every unfinished job shown (the
    ``ids`` the rows carry) and, on the newest page, for jobs newer than ``since``."""
    live = [job for job in jobs if not job.is_final]
    every = POLL_EVERY_ACTIVE if more else _poll_every(live)
    if every is None and since is not None:
        every = POLL_EVERY_WAITING
    if every is None:
        return {"poll_url": None}
    # Cursors are URL-safe text.
    query = "&".join(part for part in (filters.query, f"since={since}" if since else "") if part)
    etag = live_etag(request.user, "list", since or "", *(_row_state(job) for job in live))
    return {
        "poll_url": f"{reverse('jobs:poll')}?{query}",
        "poll_every": every,
        "poll_headers": poll_headers(etag),
    }


def _list_page(request: HttpRequest, *, submit_form: JobSubmitForm, status: int = 200) -> HttpResponse:
    """The list page with its filters, one keyset page of jobs and the submit form."""
    filters = JobFilterForm(request.GET, user=request.user)
    jobs, newer, older, since = None, None, None, None
    if filters.is_valid():
        after = NEWEST_FIRST.key_or_none(request.GET.get("after"))
        # A link carries one of the two; "after" wins if someone writes both.
        before = None if after else NEWEST_FIRST.key_or_none(request.GET.get("before"))
        page = selectors.jobs_page_for_user(
            user=request.user, **filters.selection, limit=JOBS_PER_PAGE, after=after, before=before
        )
        jobs, newer, older = page.rows, page.previous_cursor, page.next_cursor
        if newer is None:
            # The newest page: jobs submitted from now on are added at its top.
            since = NEWEST_FIRST.encode(NEWEST_FIRST.key_of(jobs[0]) if jobs else EMPTY_LIST_KEY)
    context = {
        "form": filters,
        "submit_form": submit_form,
        "jobs": jobs,
        "newer_cursor": newer,
        "older_cursor": older,
        "show_owner": request.user.is_staff,
        "filtered": any(request.GET.get(name) for name in filters.fields),
        **_poller_context(request, filters, jobs or [], since=since),
    }
    return render(request, "jobs/job_list.html", context, status=status)


def _older_rows(request: HttpRequest) -> HttpResponse:
    """Endless scroll: the rows of the page after ``after``, and the next page's sentinel."""
    filters = JobFilterForm(request.GET, user=request.user)
    after = NEWEST_FIRST.key_or_none(request.GET.get("after"))
    if not filters.is_valid() or after is None:
        return HttpResponseBadRequest("A next page needs valid filters and the cursor of a page.")
    page = selectors.jobs_page_for_user(
        user=request.user, **filters.selection, limit=JOBS_PER_PAGE, after=after
    )
    context = {"jobs": page.rows, "older_cursor": page.next_cursor, "show_owner": request.user.is_staff}
    return render(request, "jobs/_rows.html", context)


@login_required_htmx
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """The list page; an htmx request (the endless scroll) gets the next page's rows."""
    if request.htmx:
        response = _older_rows(request)
    else:
        query = JobFilterForm(request.GET, user=request.user).query
        response = _list_page(request, submit_form=JobSubmitForm(user=request.user, query=query))
    patch_vary_headers(response, ["HX-Request"])
    return response


def _uuids(raw: list[str]) -> list[UUID]:
    ids = []
    for part in ",".join(raw).split(",")[:POLL_MAX_IDS]:
        try:
            ids.append(UUID(part.strip()))
        except ValueError:
            continue
    return ids


@login_required_htmx
@require_GET
def jobs_poll(request: HttpRequest) -> HttpResponse:
    """What changed on a list page since it was shown, in one request per poll: the cells
    of its unfinished rows (``ids``, as out-of-band swaps) and the jobs created after
    ``since`` (the newest one it shows), added at its top.

    Jobs that are unknown or not the user's are left out; finished ones are sent once
    more (their final state) and then no longer polled. At most JOBS_PER_PAGE new jobs come
    at a time, the oldest first, so that a burst arrives in order over the next polls.
    """
    filters = JobFilterForm(request.GET, user=request.user)
    if not filters.is_valid():
        return HttpResponseBadRequest("Invalid filters.")
    ids = _uuids(request.GET.getlist("ids"))
    jobs = selectors.jobs_by_ids_for_user(user=request.user, job_ids=ids) if ids else []
    # The order of the page that asked, so that the tag matches the one it rendered.
    position = {job_id: index for index, job_id in enumerate(ids)}
    jobs.sort(key=lambda job: position[job.uuid])
    since = request.GET.get("since", "")
    since_key = NEWEST_FIRST.key_or_none(since)
    new = None
    if since_key is not None:
        new = selectors.jobs_page_for_user(
            user=request.user, **filters.selection, limit=JOBS_PER_PAGE, before=since_key
        )
    added = new.rows if new else []
    etag = live_etag(
        request.user, "list", since if since_key else "", *(_row_state(job) for job in added + jobs)
    )

    def fragment() -> HttpResponse:
        newest = NEWEST_FIRST.encode(NEWEST_FIRST.key_of(added[0])) if added else since
        context = {
            "jobs": jobs,
            "added": added,
            "was_empty": bool(added) and since_key == EMPTY_LIST_KEY,
            "show_owner": request.user.is_staff,
            **_poller_context(
                request,
                filters,
                added + jobs,
                since=newest if since_key else None,
                more=bool(new and new.previous_key),
            ),
        }
        return render(request, "jobs/_poll.html", context)

    return live_response(request, fragment, etag=etag)


@login_required_htmx
@require_http_methods(["GET", "POST"])
def job_submit(request: HttpRequest) -> HttpResponse:
    """Submit a job of a kind from the list page (its form's fields for a kind, on GET).

    Accepted: back to the list, where the job is at the top (an htmx submit gets a fresh
    form and the list's poller is told to poll now). Refused: the form with its problems.
    """
    query = JobFilterForm(request.GET, user=request.user).query
    if request.method == "GET":
        if not request.htmx:
            return redirect(reverse("jobs:list"))
        form = JobSubmitForm(user=request.user, kind=request.GET.get("submit-kind", ""), query=query)
        return render(request, "jobs/_submit_form.html", {"submit_form": form})
    form = JobSubmitForm(request.POST, user=request.user, query=query)
    if form.needs_params:
        # Another kind was chosen without JavaScript: show its parameters first.
        form = JobSubmitForm(user=request.user, kind=form.job_kind.name, query=query)
    elif form.is_valid():
        try:
            job = services.enqueue(
                form.job_kind.name, params=form.params, owner=request.user, user_submitted=True
            )
        except JobInputError as exc:
            # Over a quota, or refused by the kind's own submit service.
            form.add_error(None, str(exc))
        else:
            return _submitted(request, job, query=query)
    if request.htmx:
        # 200: htmx swaps no 4xx answer in (jobs/_htmx.html).
        return render(request, "jobs/_submit_form.html", {"submit_form": form})
    return _list_page(request, submit_form=form, status=422 if form.is_bound else 200)


def _submitted(request: HttpRequest, job: Job, *, query: str) -> HttpResponse:
    if not request.htmx:
        messages.success(request, f"Submitted {job.kind} (job {str(job.uuid)[:8]}).")
        return redirect(f"{reverse('jobs:list')}{'?' + query if query else ''}")
    context = {"submit_form": JobSubmitForm(user=request.user, kind=job.kind, query=query), "submitted": job}
    response = render(request, "jobs/_submit_form.html", context)
    # The list's poller polls at once: the new job shows without waiting for its next turn.
    response["HX-Trigger"] = "jobs-submitted"
    return response


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


# A log this long fills its panel (24rem, scrolling): the placeholder of a lazy log is as tall.
LOG_LINES_INLINE = 16


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
        # A visit paints the page without a long log, which loads as it scrolls into view
        # (job_log); the poll renders it inline, as does ?log=all (the link without JS).
        "lazy_log": not request.htmx
        and request.GET.get("log") != "all"
        and len(job.log or ()) > LOG_LINES_INLINE,
    }
    template = "jobs/_job_live.html" if request.htmx else "jobs/job_detail.html"
    return render(request, template, context)


@login_required_htmx
@require_GET
def job_log(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """The job's log alone, for the job page's lazy log panel."""
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    return render(request, "jobs/_log.html", {"job": job})


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
