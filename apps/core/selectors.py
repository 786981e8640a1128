from django.db.models import Q
from django.utils import timezone

from apps.core.models import TOKEN_PREFIX, ApiToken, token_digest


def api_token_get_active(*, raw: str) -> ApiToken | None:
    """The active token matching ``raw`` (with its user), or None."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    return (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .first()
    )
