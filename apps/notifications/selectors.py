"""Reads. Everything here is the user's own: another user's id is a 404, for staff too
(operators read records in the admin)."""

import functools
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from apps.core.caching import cached
from apps.core.cursor import id_parse
from apps.core.live import live_etag
from apps.core.pagination import NEWEST_FIRST, Key, Keyset, KeysetPage, keyset_page
from apps.notifications.models import (
    Channel,
    Event,
    Level,
    Notification,
    Preference,
    WebhookDelivery,
    WebhookEndpoint,
)

# How many of the latest notifications the bell's dropdown shows.
BELL_LATEST = 5
BELL_CACHE_SECONDS = 600

# Channels on when a user made no choice: in-app always, e-mail for failures, long jobs,
# disabled endpoints and operator alerts, webhooks wherever an endpoint subscribes.
EMAIL_BY_DEFAULT = {Event.JOB_DEAD, Event.JOB_LONG, Event.WEBHOOK_DISABLED, Event.ALERT_OPENED}

# What notify() needs to know about a recipient, cached per user (services bump the namespace
# on every write of preferences or endpoints, so a change applies to the very next event).
SETTINGS_CACHE_NAMESPACE = "notifications"
SETTINGS_CACHE_TTL = 300
SETTINGS_CACHE_STALE_TTL = 3600


def bell_cache_key(user_id: int) -> str:
    return f"notifications:bell:{user_id}"


def channel_default(*, event: str, channel: str, level: str = Level.INFO) -> bool:
    if channel == Channel.EMAIL:
        if event in Event.values:
            return event in EMAIL_BY_DEFAULT
        # An event this app does not list (another app's): e-mail only what went wrong.
        return level == Level.ERROR
    return True


def preferences_for_user(*, user: AbstractBaseUser) -> dict[tuple[str, str], bool]:
    """(event, channel) -> on/off for every listed event, defaults filled in; one query."""
    chosen = {
        (event, channel): enabled
        for event, channel, enabled in Preference.objects.filter(user=user).values_list(
            "event", "channel", "enabled"
        )
    }
    return {
        (event, channel): chosen.get((event, channel), channel_default(event=event, channel=channel))
        for event in Event.values
        for channel in Channel.values
    }


@dataclass(frozen=True, slots=True)
class RecipientSettings:
    """A user's channel choices (defaults filled in) and the event types of their active
    webhook endpoints (an empty list: the endpoint receives every event)."""

    preferences: dict[tuple[str, str], bool]
    endpoint_event_types: tuple[tuple[str, ...], ...]

    def endpoint_receives(self, event: str) -> bool:
        return any(not types or event in types for types in self.endpoint_event_types)


def recipient_settings(*, user_id: int) -> RecipientSettings:
    """Preferences and active endpoints of one user: two queries."""
    chosen = {
        (event, channel): enabled
        for event, channel, enabled in Preference.objects.filter(user_id=user_id).values_list(
            "event", "channel", "enabled"
        )
    }
    preferences = {
        (event, channel): chosen.get((event, channel), channel_default(event=event, channel=channel))
        for event in Event.values
        for channel in Channel.values
    }
    endpoint_event_types = tuple(
        tuple(types or ())
        for types in WebhookEndpoint.objects.filter(owner_id=user_id, is_active=True).values_list(
            "event_types", flat=True
        )
    )
    return RecipientSettings(preferences=preferences, endpoint_event_types=endpoint_event_types)


def recipient_settings_cached(*, user_id: int) -> RecipientSettings:
    """``recipient_settings`` from the cache: one round trip to Redis, no query, on a hit.

    Every ended job of a user with an owner asks this; preferences and endpoints change
    rarely, and each change bumps the namespace (services.inapp, services.webhooks).
    """
    return cached(
        f"{SETTINGS_CACHE_NAMESPACE}:recipient:{user_id}",
        lambda: recipient_settings(user_id=user_id),
        ttl=SETTINGS_CACHE_TTL,
        stale_ttl=SETTINGS_CACHE_STALE_TTL,
    )


def channel_enabled(
    *, preferences: dict[tuple[str, str], bool], event: str, channel: str, level: str = Level.INFO
) -> bool:
    if (event, channel) in preferences:
        return preferences[(event, channel)]
    return channel_default(event=event, channel=channel, level=level)


# --- In-app ---------------------------------------------------------------------------


def notifications_for_user(*, user: AbstractBaseUser, unread_only: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(recipient=user)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


# Pages of notifications, newest first by id; the cursor is the plain id (``?before=``).
NEWEST_ID_FIRST = Keyset(fields=("id",), parsers=(id_parse,))


def notifications_page_for_user(
    *, user: AbstractBaseUser, limit: int, before_id: int | None = None, unread_only: bool = False
) -> tuple[list[Notification], int | None]:
    """One keyset page, newest first: (rows, id to continue before, if more follow). One query."""
    page = keyset_page(
        notifications_for_user(user=user, unread_only=unread_only),
        keyset=NEWEST_ID_FIRST,
        size=limit,
        after=None if before_id is None else (before_id,),
    )
    return page.rows, page.next_key[0] if page.next_key else None


def notification_get_for_user(*, user: AbstractBaseUser, notification_id: int) -> Notification:
    notification = Notification.objects.filter(recipient=user, pk=notification_id).first()
    if notification is None:
        raise Http404("No such notification.")
    return notification


def bell_state_cached(*, user: AbstractBaseUser) -> dict | None:
    """The bell's state if cached, else None: pages never query for the bell."""
    return cache.get(bell_cache_key(user.pk))


def bell_state(*, user: AbstractBaseUser) -> dict:
    """The unread count and the latest few, for the bell on every page.

    Cached per user: services refresh the entry after each change (create, read), so
    pages and polls cost no query for it once cached.
    """
    state = bell_state_cached(user=user)
    if state is not None:
        return state
    return bell_state_refresh(user_id=user.pk)


@functools.cache
def _bell_sql() -> str:
    """The latest few of a user with the unread count alongside, in one statement.

    Written out (it is built once per process) because it runs after every new
    notification, i.e. every ended job of an owner: the ORM's compilation of the same
    query with a subquery annotation cost the worker more than the query itself.
    The count is not correlated with the outer rows (PostgreSQL computes it once, an
    InitPlan); the order is that of notif_recipient_created_idx, so the newest few come
    straight from the index.
    """
    table = connection.ops.quote_name(Notification._meta.db_table)
    # Only the quoted table name is formatted in; values are parameters.
    return (
        "SELECT id, title, link, level, created_at, read_at, "  # noqa: S608
        f"(SELECT COUNT(*) FROM {table} WHERE recipient_id = %s AND read_at IS NULL) AS unread "
        f"FROM {table} WHERE recipient_id = %s ORDER BY created_at DESC, id DESC LIMIT {BELL_LATEST:d}"
    )


def bell_state_refresh(*, user_id: int) -> dict:
    """Read the latest few with the unread count (one query) and cache them. Without any
    notification there is no row to carry the count, and it is 0."""
    rows = list(Notification.objects.raw(_bell_sql(), [user_id, user_id]))
    state = _bell_state(
        [(row.pk, row.title, row.link, row.level, row.created_at, row.read_at) for row in rows]
    )
    if rows:
        state["unread"] = int(rows[0].unread)
    cache.set(bell_cache_key(user_id), state, BELL_CACHE_SECONDS)
    return state


def _bell_state(latest: list[tuple]) -> dict:
    """The bell's state from (id, title, link, level, created_at, read_at) rows, newest first."""
    return {
        "unread": 0,
        "latest": [
            {
                "id": pk,
                "title": title,
                "link": link,
                "level": level,
                "created_at": created_at,
                "read": read_at is not None,
            }
            for pk, title, link, level, created_at, read_at in latest
        ],
    }


@functools.cache
def _bells_sql() -> str:
    """_bell_sql for several users in one statement (PostgreSQL): each user's latest few
    through a LATERAL join in index order, and their unread count."""
    table = connection.ops.quote_name(Notification._meta.db_table)
    # Only the quoted table name is formatted in; values are parameters.
    return (
        "SELECT u.id, n.id, n.title, n.link, n.level, n.created_at, n.read_at, "  # noqa: S608
        f"(SELECT COUNT(*) FROM {table} WHERE recipient_id = u.id AND read_at IS NULL) "
        "FROM unnest(%s::bigint[]) AS u (id) LEFT JOIN LATERAL ("
        f"SELECT id, title, link, level, created_at, read_at FROM {table} WHERE recipient_id = u.id "
        f"ORDER BY created_at DESC, id DESC LIMIT {BELL_LATEST:d}) AS n ON true"
    )


def bell_states_refresh(*, user_ids: list[int]) -> dict[int, dict]:
    """bell_state_refresh for several users: on PostgreSQL one query and one cache write
    for all of them (a worker telling the owners of the jobs that ended together)."""
    if connection.vendor != "postgresql":
        return {user_id: bell_state_refresh(user_id=user_id) for user_id in user_ids}
    latest: dict[int, list[tuple]] = {user_id: [] for user_id in user_ids}
    unread: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(_bells_sql(), [list(user_ids)])
        for user_id, *row, count in cursor.fetchall():
            unread[user_id] = int(count)
            if row[0] is not None:
                latest[user_id].append(tuple(row))
    states = {}
    for user_id, rows in latest.items():
        # The LATERAL rows come in index order, newest first, as _bell_sql's.
        states[user_id] = {**_bell_state(rows), "unread": unread.get(user_id, 0)}
    cache.set_many({bell_cache_key(user_id): state for user_id, state in states.items()}, BELL_CACHE_SECONDS)
    return states


def bell_etag(*, user: AbstractBaseUser) -> str:
    """A tag of what the bell and the list's first page show (from the cached state)."""
    state = bell_state(user=user)
    return live_etag(user, state["unread"], [(row["id"], row["read"]) for row in state["latest"]])


# --- Webhooks -------------------------------------------------------------------------


def endpoints_for_user(*, user: AbstractBaseUser) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=user).order_by("-created_at", "-id")


def endpoint_get_for_user(*, user: AbstractBaseUser, endpoint_id) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(owner=user, uuid=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def deliveries_for_user(
    *, user: AbstractBaseUser, endpoint: WebhookEndpoint | None = None, job_urls_only: bool = False
) -> QuerySet[WebhookDelivery]:
    """Newest first, with their attempts prefetched (two queries for a whole page)."""
    deliveries = WebhookDelivery.objects.filter(owner=user)
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    elif job_urls_only:
        deliveries = deliveries.filter(endpoint__isnull=True)
    return (
        deliveries.select_related("endpoint").prefetch_related("attempt_log").order_by("-created_at", "-id")
    )


def deliveries_page_for_user(
    *, user: AbstractBaseUser, endpoint: WebhookEndpoint, limit: int, after: Key | None = None
) -> KeysetPage:
    """One page of an endpoint's deliveries, newest first, with their attempts: two queries."""
    return keyset_page(
        deliveries_for_user(user=user, endpoint=endpoint), keyset=NEWEST_FIRST, size=limit, after=after
    )


def delivery_get_for_user(*, user: AbstractBaseUser, delivery_id) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .prefetch_related("attempt_log")
        .filter(owner=user, uuid=delivery_id)
        .first()
    )
    if delivery is None:
        raise Http404("No such webhook delivery.")
    return delivery
