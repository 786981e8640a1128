"""Server-rendered commerce pages: plain HTML, no JavaScript, a bounded query count each."""

import dataclasses

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from apps.commerce import documents, selectors
from apps.commerce.forms import ImportForm
from apps.commerce.models import Order
from apps.commerce.services import IMPORT_JOB_KIND, ImportInputError, ImportTooLarge, import_enqueue
from apps.commerce.uploads import upload_limit_text, upload_refusal
from apps.core.caching import cached
from apps.core.cursor import MAX_ID
from apps.jobs.selectors import jobs_list_for_user

ORDERS_PER_PAGE = 50
LINE_ITEMS_PER_PAGE = 100
STATUS_LABELS = dict(Order.Status.choices)


class OrderFilterForm(forms.Form):
    customer = forms.IntegerField(label="Customer #", required=False, min_value=1, max_value=MAX_ID)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *Order.Status.choices])
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", f"Must be on or after the start date ({date_from:%Y-%m-%d}).")
        return cleaned

    def filters(self) -> selectors.OrderFilters:
        data = self.cleaned_data
        return selectors.OrderFilters(
            customer_id=data["customer"],
            status=data["status"] or None,
            date_from=data["date_from"],
            date_to=data["date_to"],
        )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "commerce/home.html", {"dataset": selectors.dataset_current()})


@dataclasses.dataclass(frozen=True)
class OrdersTable:
    """One page of the orders page's table, rendered, with its pager cursors."""

    html: str
    next_cursor: str | None
    previous_cursor: str | None


def _orders_table(
    filters: selectors.OrderFilters, *, after: selectors.OrderKey | None, before: selectors.OrderKey | None
) -> OrdersTable:
    page = selectors.orders_page(filters=filters, limit=ORDERS_PER_PAGE, after=after, before=before)
    # reverse() once, not once per row: 100 reversals were a third of the rendering.
    order_url = reverse("commerce:order", args=[0]).removesuffix("0/")
    for row in page.rows:
        row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
        row["url"] = f"{order_url}{row['id']}/"
    return OrdersTable(
        html=render_to_string(
            "commerce/_order_rows.html", {"rows": page.rows, "orders_url": reverse("commerce:orders")}
        ),
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )


def _key_text(key: selectors.OrderKey | None) -> str:
    return f"{key[0]}/{key[1]}" if key else "-"


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET)
    table = None
    if form.is_valid():
        filters = form.filters()
        after = selectors.ORDER_KEYSET.key_or_none(request.GET.get("after"))
        # A link carries one of the two; "after" wins if someone writes both.
        before = None if after else selectors.ORDER_KEYSET.key_or_none(request.GET.get("before"))
        # Rendering 50 rows costs ~10 ms of CPU and every user sees the same rows: the
        # table is cached, keyed by the page it shows, until commerce data changes.
        page_key = ":".join(map(str, (*dataclasses.astuple(filters), _key_text(after), _key_text(before))))
        table = cached(
            f"{documents.CACHE_NAMESPACE}:orders-page:{page_key}",
            lambda: _orders_table(filters, after=after, before=before),
            ttl=documents.DETAIL_TTL,
            stale_ttl=documents.DETAIL_STALE_TTL,
        )
    context = {
        "form": form,
        "table": table,
        "filtered": any(request.GET.get(name) for name in form.fields),
    }
    # Endless scroll: the sentinel after the last row asks for the next page with htmx,
    # and gets its rows and the next sentinel only (a link without JS gets the page).
    template = "commerce/_order_page.html" if request.htmx and table else "commerce/order_list.html"
    return _varying_on_htmx(render(request, template, context))


def _varying_on_htmx(response: HttpResponse) -> HttpResponse:
    """A URL that answers htmx with rows and a visit with the page must not share a cache entry."""
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order and its first page of line items; ``?lines=<cursor>`` continues them (an
    htmx request gets only the rows, for the big orders an import can bring)."""
    if order_id > MAX_ID:
        # No row can have it, and SQLite cannot even bind it.
        raise Http404(f"Order {order_id} does not exist.")
    after = selectors.LINE_ITEM_KEYSET.key_or_none(request.GET.get("lines"))
    lines = selectors.order_line_items_page(order_id=order_id, limit=LINE_ITEMS_PER_PAGE, after=after)
    if request.htmx and after is not None:
        if not lines.rows and not selectors.order_exists(order_id=order_id):
            raise Http404(f"Order {order_id} does not exist.")
        return _varying_on_htmx(render(request, "commerce/_line_item_page.html", {"lines": lines}))
    order = selectors.order_get(order_id=order_id)
    if order is None:
        raise Http404(f"Order {order_id} does not exist.")
    context = {"order": order, "lines": lines, "continued": after is not None}
    return _varying_on_htmx(render(request, "commerce/order_detail.html", context))


# --- Import (staff only: an import writes data that every user sees) -------------------

RECENT_IMPORTS = 10


@csrf_exempt
def import_upload(request: HttpRequest) -> HttpResponse:
    """The import form, and its upload.

    CSRF is checked after the size: a body over the limit is refused with 413 before
    anything reads it (the CSRF check would read it to find the token).
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_staff:
        raise PermissionDenied("Importing data is for staff.")
    if request.method == "POST":
        refusal = upload_refusal(request)
        if refusal:
            return _import_page(request, None, refusal=refusal, status=413)
    return _import_upload_checked(request)


@csrf_protect
@require_http_methods(["GET", "POST"])
def _import_upload_checked(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _import_page(request, None)
    form = ImportForm(request.POST, request.FILES)
    refusal = upload_refusal(request)
    if refusal:
        return _import_page(request, form, refusal=refusal, status=413)
    if not form.is_valid():
        return _import_page(request, form, status=422)
    try:
        job = import_enqueue(
            table=form.cleaned_data["table"], file=form.cleaned_data["file"], owner=request.user
        )
    except ImportInputError as exc:
        form.add_error("file", str(exc))
        return _import_page(request, form, status=413 if isinstance(exc, ImportTooLarge) else 422)
    messages.success(request, "File received: the import runs as a job. This page shows its progress.")
    return redirect("jobs:detail", job_id=job.uuid)


def _import_page(
    request: HttpRequest, form: ImportForm | None, *, refusal: str = "", status: int = 200
) -> HttpResponse:
    # The rows show the params (table, file name) that job lists leave out.
    imports = list(
        jobs_list_for_user(user=request.user, kind=IMPORT_JOB_KIND)
        .defer(None)
        .defer("log", "traceback")[:RECENT_IMPORTS]
    )
    if form is None:
        # A new form keeps the table of this user's last import: files of one table
        # often come one after another.
        last = next((job for job in imports if job.owner_id == request.user.pk), None)
        form = ImportForm(initial={"table": last.params.get("table")} if last else None)
    context = {
        "form": form,
        "refusal": refusal,
        "limit": upload_limit_text(),
        "imports": imports,
    }
    return render(request, "commerce/import.html", context, status=status)
