"""Report pages: the catalog, a form per report, "my reports" and a run's page.

Runs that can still change are kept live by htmx polling, one request per poll: a run's
page polls its own URL (which answers htmx requests with its live part); the list polls
``runs/poll?ids=…`` for all of its unfinished runs at once and gets their changing cells
back as out-of-band swaps. Without JavaScript a reload shows the current state.
"""

from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.access import login_required_htmx
from apps.core.live import live_headers
from apps.core.pagination import NEWEST_FIRST, keyset_page
from apps.jobs.errors import JobQuotaExceeded
from apps.reports import selectors, services
from apps.reports.catalog import REPORTS, UnknownReport, report_definition
from apps.reports.downloads import run_file_response, run_not_ready_text
from apps.reports.forms import ReportForm
from apps.reports.models import ReportRun

RUNS_PER_PAGE = 25
POLL_MAX_IDS = 100
POLL_EVERY = 1


@login_required_htmx
@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/catalog.html", {"reports": list(REPORTS.values())})


@login_required_htmx
@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest, name: str) -> HttpResponse:
    """The report's form; a valid POST queues a run (REPORTS_INLINE: writes it) and goes to its page."""
    try:
        definition = report_definition(name)
    except UnknownReport as exc:
        raise Http404(str(exc)) from None
    form = ReportForm(request.POST or None, definition=definition)
    status, retry_after = (400 if request.method == "POST" else 200), None
    if request.method == "POST" and form.is_valid():
        try:
            run = services.report_run_request(
                owner=request.user,
                report=definition.name,
                params=form.params,
                format=form.cleaned_data["format"],
            )
        except JobQuotaExceeded as exc:
            form.add_error(None, str(exc))
            status, retry_after = 429, exc.retry_after
        except services.ReportInputError as exc:
            form.problems_add(exc.problems, str(exc))
        else:
            # Said as what happened: by the time the page shows, the run may be ready.
            messages.success(request, f"{definition.title} requested.")
            return redirect("reports:run", run_id=run.uuid)
    response = render(
        request, "reports/report_form.html", {"definition": definition, "form": form}, status=status
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _poller(runs: list[ReportRun]) -> dict:
    live = [run for run in runs if not run.is_final]
    if not live:
        return {"poll_url": None}
    return {
        "poll_url": f"{reverse('reports:poll')}?ids={','.join(str(run.uuid) for run in live)}",
        "poll_every": POLL_EVERY,
    }


@login_required_htmx
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    """My report runs, newest first, by keyset pages (one query per page)."""
    runs = selectors.report_runs_list_for_user(user=request.user)
    after = NEWEST_FIRST.key_or_none(request.GET.get("after"))
    page = keyset_page(runs, keyset=NEWEST_FIRST, size=RUNS_PER_PAGE, after=after)
    rows, older = page.rows, page.next_cursor
    for run in rows:
        run.title = REPORTS[run.report].title if run.report in REPORTS else run.report
    context = {
        "runs": rows,
        "older_cursor": older,
        "paged": after is not None,
        "show_owner": request.user.is_staff,
        **_poller(rows),
    }
    return live_headers(render(request, "reports/run_list.html", context))


@login_required_htmx
@require_GET
def runs_poll(request: HttpRequest) -> HttpResponse:
    """The changing cells of several list rows as out-of-band swaps: one request per poll."""
    ids = []
    for part in request.GET.get("ids", "").split(",")[:POLL_MAX_IDS]:
        try:
            ids.append(UUID(part.strip()))
        except ValueError:
            continue
    runs = selectors.report_runs_by_ids_for_user(user=request.user, run_ids=ids) if ids else []
    return live_headers(render(request, "reports/_poll.html", {"runs": runs, **_poller(runs)}))


@login_required_htmx
@require_GET
def run_detail(request: HttpRequest, run_id: UUID) -> HttpResponse:
    """The whole page; for an htmx poll, only its live part."""
    run = selectors.report_run_get_for_user(user=request.user, run_id=run_id)
    definition = REPORTS.get(run.report)
    context = {
        "run": run,
        "title": definition.title if definition else run.report,
        # The parameters given: one left empty says nothing ("ship_date_to=").
        "params": [(name, value) for name, value in run.params.items() if value not in (None, "", [])],
        "poll_every": None if run.is_final else POLL_EVERY,
        "show_owner": request.user.is_staff,
    }
    template = "reports/_run_live.html" if request.htmx else "reports/run_detail.html"
    return live_headers(render(request, template, context))


@login_required_htmx
@require_GET
def run_download(request: HttpRequest, run_id: UUID) -> HttpResponseBase:
    run = selectors.report_run_get_for_user(user=request.user, run_id=run_id)
    if not run.is_ready:
        messages.error(request, run_not_ready_text(run))
        return redirect("reports:run", run_id=run.uuid)
    return run_file_response(run)
