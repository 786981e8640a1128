import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from apps.core.models import TOKEN_PREFIX, ApiToken, token_digest

# last_used_at is a hint for people, not an audit log: write it at most this often.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def api_token_issue(*, token: ApiToken) -> str:
    """Give an unsaved token its secret, save it, and return the raw token (shown once)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token.hint = raw[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 6]
    token.digest = token_digest(raw)
    token.save()
    return raw


def api_token_create(
    *, user: AbstractBaseUser, name: str = "default", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the raw token."""
    token = ApiToken(user=user, name=name, expires_at=expires_at)
    raw = api_token_issue(token=token)
    return token, raw


def api_token_touch(*, token: ApiToken) -> bool:
    """Record that ``token`` was used, at most every TOKEN_TOUCH_INTERVAL; True if written."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return True
    return False
