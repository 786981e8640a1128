"""The jobs app's named errors: what callers of its services and job functions catch or raise."""


class JobInputError(ValueError):
    """A request for a job that cannot be accepted; the message is for the user."""


class UnknownJobKind(JobInputError, LookupError):
    """No job kind is registered under ``name``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown job kind {name!r}.")
        self.name = name


class JobNotAllowed(JobInputError):
    """A request only staff may make: a staff-only kind, a queue above the kind's own."""


class JobQuotaExceeded(JobInputError):
    """The owner has as many jobs waiting or running as a quota allows; the message says
    which quota, its limit and how many are active."""

    def __init__(self, message: str, *, limit: int, active: int, retry_after: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.active = active
        self.retry_after = retry_after


class JobIdempotencyConflict(JobInputError):
    """The owner already used this idempotency key for a different job (another kind, or
    other parameters); the message names that job."""


class JobStateError(ValueError):
    """An action that the job's current status does not allow."""


class PermanentJobError(Exception):
    """Raised by a job function whose failure another attempt cannot fix (a webhook answered
    404, a URL that is refused): the job goes dead at once instead of being retried."""
