import hashlib

from django.conf import settings
from django.db import models

TOKEN_PREFIX = "tempo_"  # noqa: S105 (a public prefix, not a secret)


def token_digest(raw: str) -> str:
    """Tokens are 256 random bits, so a fast unsalted hash is enough to store them."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 digest is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    # The first characters after the prefix, kept so that people can tell tokens apart.
    hint = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.user} / {self.name} ({TOKEN_PREFIX}{self.hint}…)"


class SessionGeneration(models.Model):
    """How many times a user logged out: a session remembers the value it was issued under.

    Sessions live in signed cookies (apps.core.session_users), which the server cannot
    delete; logging out increments this, and every cookie issued before (a copy replayed
    later included) no longer matches. A user who never logged out has no row (0).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="session_generation",
    )
    generation = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: generation {self.generation}"
