"""Notification pages: the list, preferences, webhook endpoints and their delivery log.

Live updates follow the job pages: the bell (on every page) and the list poll with the
ETag of what they show, and get 304 with no body while nothing changed. The tag comes from
the cached bell state, so an unchanged poll costs no database query.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.access import login_required_htmx, safe_next_url
from apps.core.live import live_response, poll_headers
from apps.core.pagination import NEWEST_FIRST
from apps.notifications import selectors, services
from apps.notifications.forms import EndpointForm, PreferencesForm

NOTIFICATIONS_PER_PAGE = 25
DELIVERIES_PER_PAGE = 50
POLL_EVERY = 10


# --- In-app ---------------------------------------------------------------------------


@login_required_htmx
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The bell alone, for its poller (304 when unchanged)."""
    etag = selectors.bell_etag(user=request.user)
    return live_response(
        request,
        lambda: render(
            request,
            "notifications/_bell_inner.html",
            {"bell": selectors.bell_state(user=request.user), "etag": etag},
        ),
        etag=etag,
    )


@login_required_htmx
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """All notifications, newest first, 25 a page; the first page keeps itself current."""
    try:
        before = int(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        before = None
    unread_only = request.GET.get("unread") == "1"
    live = before is None
    etag = selectors.bell_etag(user=request.user) if live else ""
    # The first page is tagged; only its htmx poll is answered 304 (a visit gets the page).
    return live_response(
        request,
        lambda: _notification_list_page(request, before=before, unread_only=unread_only, etag=etag),
        etag=etag or None,
        revalidate=bool(request.htmx),
    )


def _notification_list_page(
    request: HttpRequest, *, before: int | None, unread_only: bool, etag: str
) -> HttpResponse:
    live = before is None
    rows, next_before = selectors.notifications_page_for_user(
        user=request.user, limit=NOTIFICATIONS_PER_PAGE, before_id=before, unread_only=unread_only
    )
    context = {"notifications": rows, "next_before": next_before}
    if request.htmx and not live:
        # Endless scroll: the next page's items and the sentinel after them, nothing else.
        template = "notifications/_item_page.html"
    else:
        template = "notifications/_items.html" if request.htmx else "notifications/notification_list.html"
        context |= {
            "unread_only": unread_only,
            "live": live,
            "poll_every": POLL_EVERY,
            "poll_url": request.get_full_path(),
            "poll_headers": poll_headers(etag),
            "unread": selectors.bell_state(user=request.user)["unread"],
        }
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required_htmx
@require_GET
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Where the bell's items lead: the notification's own link (or the list)."""
    notification = selectors.notification_get_for_user(user=request.user, notification_id=notification_id)
    if notification.link and url_has_allowed_host_and_scheme(
        notification.link, allowed_hosts={request.get_host()}
    ):
        return redirect(notification.link)
    return redirect(reverse("notifications:list") + f"#notification-{notification.pk}")


@login_required_htmx
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = selectors.notification_get_for_user(user=request.user, notification_id=notification_id)
    services.notification_mark_read(notification=notification)
    return redirect(safe_next_url(request, reverse("notifications:list")))


@login_required_htmx
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    marked = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} as read.")
    return redirect(safe_next_url(request, reverse("notifications:list")))


@login_required_htmx
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    current = selectors.preferences_for_user(user=request.user)
    form = PreferencesForm(request.POST or None, initial_choices=current)
    if request.method == "POST" and form.is_valid():
        services.preferences_set(user=request.user, choices=form.choices())
        messages.success(request, "Preferences saved.")
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})


# --- Webhooks -------------------------------------------------------------------------


def _webhooks_page(request: HttpRequest, form: EndpointForm, **extra) -> HttpResponse:
    context = {
        "form": form,
        "endpoints": list(selectors.endpoints_for_user(user=request.user)),
        "job_deliveries": list(selectors.deliveries_for_user(user=request.user, job_urls_only=True)[:20]),
        **extra,
    }
    response = render(request, "notifications/webhooks.html", context)
    if extra:
        # A page showing a secret must not be stored anywhere (no-store, private, no-cache).
        add_never_cache_headers(response)
    return response


@login_required_htmx
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    """Endpoints (add one: its secret is shown this once), the account signing secret, and
    the latest deliveries to jobs' own webhook URLs."""
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(
                owner=request.user,
                url=form.cleaned_data["url"],
                event_types=form.cleaned_data["event_types"],
                description=form.cleaned_data["description"],
            )
        except services.WebhookInputError as exc:
            form.add_error("url", str(exc))
        else:
            return _webhooks_page(request, EndpointForm(), created=endpoint)
    return _webhooks_page(request, form)


@login_required_htmx
@require_POST
def signing_secret_rotate(request: HttpRequest) -> HttpResponse:
    secret = services.signing_secret_rotate(user=request.user)
    return _webhooks_page(request, EndpointForm(), signing_secret=secret)


@login_required_htmx
@require_GET
def endpoint_detail(request: HttpRequest, endpoint_id: UUID) -> HttpResponse:
    """The endpoint and its delivery log, newest first; ``?after=<cursor>`` continues the log
    (an htmx request gets only the rows: endless scroll)."""
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    after = NEWEST_FIRST.key_or_none(request.GET.get("after"))
    page = selectors.deliveries_page_for_user(
        user=request.user, endpoint=endpoint, limit=DELIVERIES_PER_PAGE, after=after
    )
    context = {"endpoint": endpoint, "deliveries": page.rows, "next_cursor": page.next_cursor}
    if request.htmx and after is not None:
        response = render(request, "notifications/_delivery_page.html", context)
    else:
        response = render(request, "notifications/endpoint_detail.html", {**context, "continued": after})
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required_htmx
@require_POST
def endpoint_toggle(request: HttpRequest, endpoint_id: UUID) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    try:
        services.webhook_endpoint_update(endpoint=endpoint, is_active=not endpoint.is_active)
    except services.WebhookInputError as exc:
        messages.error(request, f"Cannot enable: {exc}")
    else:
        messages.success(request, "Endpoint enabled." if endpoint.is_active else "Endpoint disabled.")
    return redirect(safe_next_url(request, reverse("notifications:endpoint", args=[endpoint.uuid])))


@login_required_htmx
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: UUID) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("notifications:webhooks")


@contextmanager
def _sent_by_hand(request: HttpRequest, *, refused: str, queued: str) -> Iterator[None]:
    """Around a redelivery or test event: what became of it is the next page's message."""
    try:
        yield
    except services.WebhookInputError as exc:
        messages.error(request, f"{refused}: {exc}")
    else:
        messages.success(request, queued)


@login_required_htmx
@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: UUID) -> HttpResponse:
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    queued = "Test event queued: its outcome shows in the delivery log."
    with _sent_by_hand(request, refused="Cannot send a test event", queued=queued):
        services.webhook_endpoint_test(endpoint=endpoint, by=request.user)
    return redirect(safe_next_url(request, reverse("notifications:endpoint", args=[endpoint.uuid])))


@login_required_htmx
@require_POST
def delivery_redeliver(request: HttpRequest, delivery_id: UUID) -> HttpResponse:
    delivery = selectors.delivery_get_for_user(user=request.user, delivery_id=delivery_id)
    with _sent_by_hand(request, refused="Cannot redeliver", queued="Queued for redelivery."):
        services.webhook_redeliver(delivery=delivery, by=request.user)
    fallback = (
        reverse("notifications:endpoint", args=[delivery.endpoint.uuid])
        if delivery.endpoint
        else reverse("notifications:webhooks")
    )
    return redirect(safe_next_url(request, fallback))
