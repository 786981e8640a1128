"""Endless scroll on the notifications list and an endpoint's delivery log: the sentinel
after the last item asks for the next keyset page with htmx and gets only its items."""

import html
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from django.urls import reverse

from apps.core.pagination import NEWEST_FIRST
from apps.notifications import services, views
from apps.notifications.models import Notification, WebhookDelivery
from tests.notifications.conftest import delivery_recorded

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SENTINEL = re.compile(
    r'class="endless-more" hx-get="([^"]+)" hx-trigger="intersect once" hx-swap="outerHTML"'
)
NOTIFICATION_ITEM = re.compile(r'<li class="notif [^"]*" id="notification-(\d+)">')
DELIVERY_ID = re.compile(r'<small class="muted">(msg_\d+)</small>')


def next_url(body: str, base: str) -> str | None:
    """The sentinel's URL, resolved against the page as the browser does."""
    found = SENTINEL.findall(body)
    assert len(found) <= 1, "one sentinel per page"
    return urljoin(base, html.unescape(found[0])) if found else None


def follow(client, first: str, pattern: re.Pattern) -> tuple[list[str], int, str]:
    """Every item of the list, page after page through the sentinels: (items, pages, last body)."""
    body = client.get(first).content.decode()
    seen, url, pages = pattern.findall(body), next_url(body, first), 1
    while url:
        response = client.get(url, **HTMX)
        assert response.status_code == 200
        body = response.content.decode()
        assert "<html" not in body and '<form method="post" action="/notifications/read-all"' not in body
        seen += pattern.findall(body)
        url, pages = next_url(body, first), pages + 1
    return seen, pages, body


# --- Notifications ----------------------------------------------------------------------


@pytest.fixture
def notifications(alice, bob, monkeypatch) -> list[Notification]:
    """Eleven of alice's notifications (newest last), five to a page, and one of bob's."""
    monkeypatch.setattr(views, "NOTIFICATIONS_PER_PAGE", 5)
    services.notification_create(recipient=bob, event="job.succeeded", title="Bob's own")
    return [
        services.notification_create(recipient=alice, event="job.succeeded", title=f"Report {n}")
        for n in range(11)
    ]


def test_the_list_pages_through_every_notification_once_newest_first(alice_client, notifications):
    seen, pages, last = follow(alice_client, reverse("notifications:list"), NOTIFICATION_ITEM)
    assert [int(pk) for pk in seen] == [n.pk for n in reversed(notifications)]
    assert pages == 3
    assert "Older notifications" not in last


def test_a_page_of_notifications_for_htmx_is_only_its_items_and_the_next_sentinel(
    alice_client, notifications
):
    first = alice_client.get(reverse("notifications:list")).content.decode()
    url = next_url(first, reverse("notifications:list"))
    # The sentinel continues before the first page's last item.
    assert parse_qs(urlsplit(url).query)["before"] == [str(notifications[6].pk)]
    response = alice_client.get(url, **HTMX)
    body = response.content.decode()
    assert "unread</span>" not in body and "<ul" not in body and 'id="notification-items"' not in body
    assert [int(pk) for pk in NOTIFICATION_ITEM.findall(body)] == [n.pk for n in notifications[5::-1][:5]]
    assert "HX-Request" in response["Vary"]
    # Without JS the same URL is a whole page, with the pager.
    page = alice_client.get(url).content.decode()
    assert 'id="notification-items"' in page and 'rel="next">Older' in page


def test_the_unread_filter_carries_into_the_next_page(alice_client, notifications):
    services.notification_mark_read(notification=notifications[3])
    seen, _, _ = follow(alice_client, reverse("notifications:list") + "?unread=1", NOTIFICATION_ITEM)
    assert [int(pk) for pk in seen] == [n.pk for n in reversed(notifications) if n.pk != notifications[3].pk]


def test_bob_never_gets_alices_notifications_through_a_cursor(client, bob, notifications):
    client.force_login(bob)
    url = reverse("notifications:list") + f"?before={notifications[-1].pk + 1}"
    body = client.get(url, **HTMX).content.decode()
    assert [int(pk) for pk in NOTIFICATION_ITEM.findall(body)] == [Notification.objects.get(recipient=bob).pk]


def test_an_anonymous_request_for_a_page_is_sent_to_log_in(client, notifications):
    response = client.get(reverse("notifications:list") + f"?before={notifications[-1].pk}", **HTMX)
    # htmx follows HX-Redirect to the login page instead of swapping anything in.
    assert response["HX-Redirect"].startswith(reverse("login"))
    assert not NOTIFICATION_ITEM.findall(response.content.decode())


def test_an_appended_page_of_notifications_costs_two_queries(
    alice_client, notifications, django_assert_max_num_queries
):
    url = reverse("notifications:list") + f"?before={notifications[8].pk}"
    # Session and user, then the page (the unread count and the poll are the first page's).
    with django_assert_max_num_queries(3):
        response = alice_client.get(url, **HTMX)
    assert len(NOTIFICATION_ITEM.findall(response.content.decode())) == 5


# --- Deliveries -------------------------------------------------------------------------


@pytest.fixture
def deliveries(endpoint, monkeypatch) -> list[WebhookDelivery]:
    """Seven deliveries to alice's endpoint (one attempt each), three to a page."""
    monkeypatch.setattr(views, "DELIVERIES_PER_PAGE", 3)
    made = []
    for n in range(7):
        delivery = delivery_recorded(endpoint, message_id=f"msg_{n}", status="failed")
        delivery.attempt_log.create(number=1, status_code=500, latency_ms=5, response_excerpt="no")
        made.append(delivery)
    return made


def newest_first(deliveries: list[WebhookDelivery]) -> list[str]:
    ordered = sorted(deliveries, key=lambda delivery: (delivery.created_at, delivery.id), reverse=True)
    return [delivery.message_id for delivery in ordered]


def test_the_delivery_log_pages_through_every_delivery_once(alice_client, endpoint, deliveries):
    page = reverse("notifications:endpoint", args=[endpoint.uuid])
    seen, pages, last = follow(alice_client, page, DELIVERY_ID)
    assert seen == newest_first(deliveries)
    assert pages == 3
    assert "Older deliveries" not in last


def test_the_delivery_sentinel_holds_the_last_rows_key(alice_client, endpoint, deliveries):
    page = reverse("notifications:endpoint", args=[endpoint.uuid])
    url = next_url(alice_client.get(page).content.decode(), page)
    third = WebhookDelivery.objects.get(message_id=newest_first(deliveries)[2])
    assert NEWEST_FIRST.decode(parse_qs(urlsplit(url).query)["after"][0]) == (third.created_at, third.id)
    body = alice_client.get(url, **HTMX).content.decode()
    assert "<thead>" not in body and "<h1>" not in body
    assert DELIVERY_ID.findall(body) == newest_first(deliveries)[3:6]


def test_other_user_gets_404_for_a_page_of_the_delivery_log(client, bob, endpoint, deliveries):
    client.force_login(bob)
    after = NEWEST_FIRST.encode((deliveries[-1].created_at, deliveries[-1].id))
    url = reverse("notifications:endpoint", args=[endpoint.uuid]) + f"?after={after}"
    response = client.get(url, **HTMX)
    assert response.status_code == 404
    assert not DELIVERY_ID.findall(response.content.decode())


def test_an_appended_page_of_deliveries_costs_a_constant_few_queries(
    alice_client, endpoint, deliveries, django_assert_max_num_queries
):
    after = NEWEST_FIRST.encode((deliveries[-1].created_at, deliveries[-1].id))
    url = reverse("notifications:endpoint", args=[endpoint.uuid]) + f"?after={after}"
    # Session, user, the endpoint, the page of deliveries and their attempts.
    with django_assert_max_num_queries(5):
        response = alice_client.get(url, **HTMX)
    assert DELIVERY_ID.findall(response.content.decode()) == newest_first(deliveries)[1:4]
