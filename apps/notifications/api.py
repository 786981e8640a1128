"""The notifications JSON API: your notifications, preferences, webhook endpoints, their
deliveries, and the account signing secret. Everything is the caller's own: another
user's id is a 404. Answers that show a secret are never stored by a cache (no-store)."""

import datetime
from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from django.views.decorators.cache import never_cache
from ninja import Body, Field, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.errors import HttpError

from apps.core.api import ERRORS, ErrorOut, PageOut, TooManyRequests, page_limit
from apps.core.cursor import MAX_ID
from apps.notifications import selectors, services
from apps.notifications.models import Channel, Event, WebhookDelivery

router = Router(tags=["notifications"])

EventName = Annotated[str, Field(max_length=100)]


SENDS = {409: ErrorOut, 429: ErrorOut}


class NotificationOut(Schema):
    id: int
    event: str
    title: str
    body: str
    link: str
    level: str
    created_at: datetime.datetime
    read_at: datetime.datetime | None


class NotificationPageOut(PageOut[NotificationOut]):
    unread: int
    next: str | None = Field(None, description="Pass as `?before=` for the next (older) page.")


class NotificationQuery(Schema):
    unread: bool = False
    before: int | None = Field(None, ge=1, le=MAX_ID)
    limit: int | None = Field(None, ge=1)


class PreferenceItem(Schema):
    event: EventName
    channel: str = Field(max_length=20)
    enabled: bool


class EndpointIn(Schema):
    url: str = Field(max_length=services.URL_MAX)
    event_types: list[EventName] = Field(
        default_factory=list, max_length=len(Event.values), description="Empty: every event type."
    )
    description: str = Field("", max_length=services.DESCRIPTION_MAX)


class EndpointPatch(Schema):
    is_active: bool | None = None
    event_types: list[EventName] | None = Field(None, max_length=len(Event.values))
    description: str | None = Field(None, max_length=services.DESCRIPTION_MAX)


class EndpointOut(Schema):
    id: UUID = Field(alias="uuid")
    url: str
    description: str
    event_types: list[str]
    is_active: bool
    consecutive_failures: int
    disabled_reason: str
    created_at: datetime.datetime


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(description="The endpoint's signing secret: shown only in this response.")


class AttemptOut(Schema):
    number: int
    created_at: datetime.datetime
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str
    error: str
    will_retry: bool


class DeliveryOut(Schema):
    id: UUID = Field(alias="uuid")
    endpoint: UUID | None = None
    url: str
    event: str
    message_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    job_id: UUID | None = Field(None, alias="job_uuid")
    created_at: datetime.datetime
    delivered_at: datetime.datetime | None
    attempt_log: list[AttemptOut]

    @staticmethod
    def resolve_endpoint(obj) -> UUID | None:
        return obj.endpoint.uuid if obj.endpoint_id else None

    @staticmethod
    def resolve_attempt_log(obj) -> list:
        return list(obj.attempt_log.all())


class SecretOut(Schema):
    secret: str


# What a send by hand (a redelivery, a test event) answers: its delivery, or why not.
SENT_BY_HAND = {202: DeliveryOut, **SENDS, **ERRORS}


def _sent_by_hand(request: HttpRequest, send: Callable[[], WebhookDelivery]) -> Status:
    """Run a redelivery or test event: 202 with its delivery as it now stands; its refusals
    as 409 (pending, disabled) or 429."""
    try:
        delivery = send()
    except services.WebhookRateLimited as exc:
        raise TooManyRequests(str(exc), retry_after=exc.retry_after) from None
    except services.WebhookInputError as exc:
        raise HttpError(409, str(exc)) from None
    return Status(202, selectors.delivery_get_for_user(user=request.user, delivery_id=delivery.uuid))


# --- Notifications --------------------------------------------------------------------


@router.get("", response={200: NotificationPageOut, **ERRORS}, summary="Your notifications, newest first")
def list_notifications(request: HttpRequest, filters: Query[NotificationQuery]):
    rows, next_before = selectors.notifications_page_for_user(
        user=request.user,
        limit=page_limit(filters.limit),
        before_id=filters.before,
        unread_only=filters.unread,
    )
    return {
        "items": rows,
        "unread": selectors.bell_state(user=request.user)["unread"],
        "next": str(next_before) if next_before else None,
    }


@router.post(
    "/{int:notification_id}/read", response={200: NotificationOut, **ERRORS}, summary="Mark one read"
)
def mark_read(request: HttpRequest, notification_id: int):
    notification = selectors.notification_get_for_user(user=request.user, notification_id=notification_id)
    return services.notification_mark_read(notification=notification)


@router.post("/read-all", response={200: dict, **ERRORS}, summary="Mark all read")
def mark_all_read(request: HttpRequest):
    return {"marked": services.notifications_mark_all_read(user=request.user)}


@router.get("/preferences", response={200: list[PreferenceItem], **ERRORS}, summary="Channels per event")
def get_preferences(request: HttpRequest):
    current = selectors.preferences_for_user(user=request.user)
    return [{"event": event, "channel": channel, "enabled": on} for (event, channel), on in current.items()]


@router.put(
    "/preferences", response={200: list[PreferenceItem], **ERRORS}, summary="Change channels per event"
)
def put_preferences(
    request: HttpRequest,
    payload: Annotated[list[PreferenceItem], Body(max_length=len(Event.values) * len(Channel.values))],
):
    for item in payload:
        if item.event not in Event.values:
            raise HttpError(
                422, f"Invalid input: unknown event {item.event!r}; use {', '.join(Event.values)}."
            )
        if item.channel not in Channel.values:
            raise HttpError(
                422, f"Invalid input: unknown channel {item.channel!r}; use {', '.join(Channel.values)}."
            )
    services.preferences_set(user=request.user, choices={(i.event, i.channel): i.enabled for i in payload})
    return get_preferences(request)


# --- Webhook endpoints and deliveries -------------------------------------------------


@router.get("/endpoints", response={200: list[EndpointOut], **ERRORS}, summary="Your webhook endpoints")
def list_endpoints(request: HttpRequest):
    return list(selectors.endpoints_for_user(user=request.user)[: settings.API_MAX_PAGE_SIZE])


@router.post("/endpoints", response={201: EndpointCreatedOut, **ERRORS}, summary="Register an endpoint")
@decorate_view(never_cache)
def create_endpoint(request: HttpRequest, payload: EndpointIn):
    try:
        endpoint = services.webhook_endpoint_create(
            owner=request.user,
            url=payload.url,
            event_types=payload.event_types,
            description=payload.description,
        )
    except services.WebhookInputError as exc:
        raise HttpError(422, f"Invalid input: {exc}") from None
    return Status(201, endpoint)


@router.get("/endpoints/{uuid:endpoint_id}", response={200: EndpointOut, **ERRORS})
def get_endpoint(request: HttpRequest, endpoint_id: UUID):
    return selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)


@router.patch(
    "/endpoints/{uuid:endpoint_id}", response={200: EndpointOut, **ERRORS}, summary="Change an endpoint"
)
def update_endpoint(request: HttpRequest, endpoint_id: UUID, payload: EndpointPatch):
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    try:
        return services.webhook_endpoint_update(
            endpoint=endpoint,
            is_active=payload.is_active,
            event_types=payload.event_types,
            description=payload.description,
        )
    except services.WebhookInputError as exc:
        raise HttpError(422, f"Invalid input: {exc}") from None


@router.delete("/endpoints/{uuid:endpoint_id}", response={204: None, **ERRORS}, summary="Delete an endpoint")
def delete_endpoint(request: HttpRequest, endpoint_id: UUID):
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint)
    return Status(204, None)


@router.get(
    "/endpoints/{uuid:endpoint_id}/deliveries",
    response={200: list[DeliveryOut], **ERRORS},
    summary="An endpoint's latest deliveries, with each attempt",
)
def endpoint_deliveries(request: HttpRequest, endpoint_id: UUID, limit: int | None = None):
    size = page_limit(limit)
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    return list(selectors.deliveries_for_user(user=request.user, endpoint=endpoint)[:size])


@router.post(
    "/endpoints/{uuid:endpoint_id}/test",
    response=SENT_BY_HAND,
    summary="Send a test event (webhook.test) to an endpoint",
)
def test_endpoint(request: HttpRequest, endpoint_id: UUID):
    endpoint = selectors.endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    return _sent_by_hand(request, lambda: services.webhook_endpoint_test(endpoint=endpoint, by=request.user))


@router.get("/deliveries", response={200: list[DeliveryOut], **ERRORS}, summary="All your latest deliveries")
def list_deliveries(request: HttpRequest, limit: int | None = None):
    return list(selectors.deliveries_for_user(user=request.user)[: page_limit(limit)])


@router.get("/deliveries/{uuid:delivery_id}", response={200: DeliveryOut, **ERRORS})
def get_delivery(request: HttpRequest, delivery_id: UUID):
    return selectors.delivery_get_for_user(user=request.user, delivery_id=delivery_id)


@router.post(
    "/deliveries/{uuid:delivery_id}/redeliver",
    response=SENT_BY_HAND,
    summary="Send a delivery again (409 while it is pending)",
)
def redeliver(request: HttpRequest, delivery_id: UUID):
    delivery = selectors.delivery_get_for_user(user=request.user, delivery_id=delivery_id)
    return _sent_by_hand(request, lambda: services.webhook_redeliver(delivery=delivery, by=request.user))


@router.post(
    "/signing-secret/rotate",
    response={200: SecretOut, **ERRORS},
    summary="New account signing secret (for jobs' own webhook_url), shown only in this response",
)
@decorate_view(never_cache)
def rotate_signing_secret(request: HttpRequest):
    return {"secret": services.signing_secret_rotate(user=request.user)}
