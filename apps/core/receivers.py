"""What apps.core does when the auth app's events happen: keep the cached session users true.

Connected in ``CoreConfig.ready()``.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.core.models import ApiToken
from apps.core.session_users import (
    GENERATION_KEY,
    api_token_forget,
    session_generation_bump,
    user_entry,
    user_forget,
)

M2M_WRITES = ("post_add", "post_remove", "post_clear", "pre_clear")


def user_changed(sender, instance, **kwargs) -> None:
    user_forget(instance.pk)


def api_token_changed(sender, instance, **kwargs) -> None:
    """A token saved (renamed, expiry changed) or deleted (revoked) is read afresh."""
    api_token_forget(digest=instance.digest)


def user_m2m_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A user's groups or permissions changed (from the user's side or the group's)."""
    if action not in M2M_WRITES:
        return
    if not reverse:
        user_forget(instance.pk)
    elif action == "pre_clear":
        for user_id in instance.user_set.values_list("pk", flat=True):
            user_forget(user_id)
    else:
        for user_id in pk_set or ():
            user_forget(user_id)


def group_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A group's permissions changed: its members' cached entries go."""
    if action not in M2M_WRITES:
        return
    if not reverse:
        groups = [instance]
    elif action == "pre_clear":
        groups = list(instance.group_set.all())
    else:
        groups = list(Group.objects.filter(pk__in=pk_set or ()))
    User = get_user_model()
    for user_id in User._default_manager.filter(groups__in=groups).values_list("pk", flat=True).distinct():
        user_forget(user_id)


def session_generation_record(sender, request, user, **kwargs) -> None:
    """A new session carries the generation it is valid for."""
    entry = user_entry(user.pk)
    if request is not None and hasattr(request, "session") and entry is not None:
        request.session[GENERATION_KEY] = entry[1]


def sessions_end(sender, request, user, **kwargs) -> None:
    """Logout ends every session of the user, copies of the cookie included."""
    if user is not None and user.pk is not None:
        session_generation_bump(user_id=user.pk)


def connect() -> None:
    User = get_user_model()
    post_save.connect(user_changed, sender=User, dispatch_uid="core.user_saved")
    post_delete.connect(user_changed, sender=User, dispatch_uid="core.user_deleted")
    for through in (User.groups.through, User.user_permissions.through):
        m2m_changed.connect(
            user_m2m_changed, sender=through, dispatch_uid=f"core.user_m2m.{through.__name__}"
        )
    m2m_changed.connect(
        group_permissions_changed, sender=Group.permissions.through, dispatch_uid="core.group_perms"
    )
    post_save.connect(api_token_changed, sender=ApiToken, dispatch_uid="core.api_token_saved")
    post_delete.connect(api_token_changed, sender=ApiToken, dispatch_uid="core.api_token_deleted")
    user_logged_in.connect(session_generation_record, dispatch_uid="core.session_generation_record")
    user_logged_out.connect(sessions_end, dispatch_uid="core.sessions_end")
