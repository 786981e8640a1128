from django import template

from apps.notifications import selectors

register = template.Library()


@register.inclusion_tag("notifications/_bell_inner.html", takes_context=True)
def notification_bell(context) -> dict:
    """The bell for the signed-in user from the per-user cache; never a query. Without a
    cached state (evicted, or nothing ever notified) it is an empty bell that bell.js fills
    at once."""
    user = context["request"].user
    state = selectors.bell_state_cached(user=user)
    if state is None:
        return {"bell": None, "etag": ""}
    return {"bell": state, "etag": selectors.bell_etag(user=user)}
