"""In-app notifications and preferences. Each write drops the recipient's cached bell."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.core.caching import namespace_bump
from apps.notifications.models import Channel, Event, Level, Notification, Preference
from apps.notifications.selectors import (
    SETTINGS_CACHE_NAMESPACE,
    bell_cache_key,
    bell_state_refresh,
    bell_states_refresh,
)


def _bell_changed(user_id: int) -> None:
    if not transaction.get_connection().in_atomic_block:
        # Already committed (a worker telling a job's owner): recounted at once, which
        # overwrites the old state; dropped only if the recount fails.
        try:
            bell_state_refresh(user_id=user_id)
        except Exception:
            cache.delete(bell_cache_key(user_id))
            raise
        return
    # Dropped now, so that nothing shows the old state; recounted once committed, so that
    # the next page shows the new one without querying (pages only read the cache).
    cache.delete(bell_cache_key(user_id))
    transaction.on_commit(lambda: bell_state_refresh(user_id=user_id))


def recipient_settings_changed() -> None:
    """Preferences or webhook endpoints were written: cached recipient settings
    (selectors.recipient_settings_cached) count as missing.

    Bumped now, so that this transaction's own reads see the change, and again once the
    write commits: another process may have cached the old rows in between.
    """
    namespace_bump(SETTINGS_CACHE_NAMESPACE)
    transaction.on_commit(lambda: namespace_bump(SETTINGS_CACHE_NAMESPACE))


def notification_create(
    *,
    recipient: AbstractBaseUser | None = None,
    recipient_id: int | None = None,
    event: str,
    title: str,
    body: str = "",
    link: str = "",
    level: str = Level.INFO,
) -> Notification:
    """One in-app notification for ``recipient`` (or ``recipient_id``: no need to load the user)."""
    if level not in Level.values:
        raise ValueError(f"level must be one of {', '.join(Level.values)}, not {level!r}")
    if recipient is not None:
        recipient_id = recipient.pk
    if recipient_id is None:
        raise ValueError("notification_create needs a recipient or a recipient_id")
    notification = Notification.objects.create(
        recipient_id=recipient_id,
        event=event[:100],
        title=title[:200],
        body=body,
        link=link[:500],
        level=level,
    )
    _bell_changed(recipient_id)
    return notification


def notifications_create(*, rows: list[dict]) -> list[Notification]:
    """Several in-app notifications in one INSERT (``rows``: notification_create's keyword
    arguments, with ``recipient_id``), and each recipient's bell refreshed once."""
    if not rows:
        return []
    for row in rows:
        if row.get("level", Level.INFO) not in Level.values:
            raise ValueError(f"level must be one of {', '.join(Level.values)}, not {row['level']!r}")
    notifications = Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=row["recipient_id"],
                event=row["event"][:100],
                title=row["title"][:200],
                body=row.get("body", ""),
                link=row.get("link", "")[:500],
                level=row.get("level", Level.INFO),
            )
            for row in rows
        ]
    )
    recipients = list(dict.fromkeys(row["recipient_id"] for row in rows))
    if transaction.get_connection().in_atomic_block:
        for recipient_id in recipients:
            _bell_changed(recipient_id)
        return notifications
    try:
        bell_states_refresh(user_ids=recipients)
    except Exception:
        cache.delete_many([bell_cache_key(user_id) for user_id in recipients])
        raise
    return notifications


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
    recipient_settings_changed()
