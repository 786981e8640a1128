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
