"""Configuration checks of apps.core (registered in CoreConfig.ready)."""

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Backends that never deliver mail: the console and file ones write it (password reset
# links included) where operators and logs can read it; locmem keeps it in memory.
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}


@register(Tags.security, deploy=True)
def email_backend_delivers(app_configs, **kwargs) -> list[CheckMessage]:
    """``check --deploy``: with DEBUG off, e-mail must go to a real mail server."""
    if settings.DEBUG or settings.EMAIL_BACKEND not in UNDELIVERED_EMAIL_BACKENDS:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND} with DEBUG off: e-mails are not delivered, "
            "and password reset links end up in the web log or on disk, readable by anyone who "
            "can read those.",
            hint="Set EMAIL_URL to your mail server, e.g. smtp+tls://user:password@mail.example.com:587.",
            id="core.W001",
        )
    ]
