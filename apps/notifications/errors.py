"""The notifications app's named errors: what callers of its services catch."""


class WebhookInputError(ValueError):
    """A request about webhooks that cannot be accepted; the message is for the user."""


class WebhookPending(WebhookInputError):
    """What was asked is already pending (a redelivery, a test event): answered with 409."""


class WebhookRateLimited(WebhookInputError):
    """Too many redeliveries and test events this minute: answered with 429 + Retry-After."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
