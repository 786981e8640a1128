"""In-app notifications and preferences. Each write drops the recipient's cached bell."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.notifications.models import Channel, Event, Level, Notification, Preference
from apps.notifications.selectors import bell_cache_key, bell_state_refresh


def _bell_changed(user_id: int) -> None:
    # Dropped now, so that nothing shows the old state; recounted once committed, so that
    # the next page shows the new one without querying (pages only read the cache).
    cache.delete(bell_cache_key(user_id))
    transaction.on_commit(lambda: bell_state_refresh(user_id=user_id))


def notification_create(
    *,
    recipient: AbstractBaseUser,
    event: str,
    title: str,
    body: str = "",
    link: str = "",
    level: str = Level.INFO,
) -> Notification:
    if level not in Level.values:
        raise ValueError(f"level must be one of {', '.join(Level.values)}, not {level!r}")
    notification = Notification.objects.create(
        recipient=recipient, event=event[:100], title=title[:200], body=body, link=link[:500], level=level
    )
    _bell_changed(recipient.pk)
    return notification


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now
        _bell_changed(notification.recipient_id)
    return notification


def notifications_mark_all_read(*, user: AbstractBaseUser) -> int:
    marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        _bell_changed(user.pk)
    return marked


@transaction.atomic
def preferences_set(*, user: AbstractBaseUser, choices: dict[tuple[str, str], bool]) -> None:
    """Store the user's on/off choice for each (event, channel) given."""
    for (event, channel), enabled in choices.items():
        if event not in Event.values or channel not in Channel.values:
            raise ValueError(f"Unknown event or channel: {event!r}, {channel!r}")
        Preference.objects.update_or_create(
            user=user, event=event, channel=channel, defaults={"enabled": bool(enabled)}
        )
