"""The ``LOGGING`` dictionary: one plain line per record on the console."""


def logging_config(*, level: str, broker_level: str) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django": {"handlers": ["console"], "level": level, "propagate": False},
            # django-q2 logs a line per message at INFO; our "apps.jobs" logger tells the story.
            "django-q": {"level": broker_level},
            # django-axes logs every login at INFO; failures and lockouts are WARNINGs.
            "axes": {"level": "WARNING"},
        },
    }
