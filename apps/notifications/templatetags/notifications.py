from django import template

from apps.notifications import selectors

register = template.Library()


@register.inclusion_tag("notifications/_bell_inner.html", takes_context=True)
def notification_bell(context) -> dict:
    """The bell for the signed-in user, from the per-user cache (no query once cached)."""
    user = context["request"].user
    return {"bell": selectors.bell_state(user=user), "etag": selectors.bell_etag(user=user)}
