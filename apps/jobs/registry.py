"""The catalogue of job kinds: ``@job("reports.generate", queue="default", ...)``."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from apps.jobs.models import Queue


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class JobKind:
    name: str
    func: Callable
    queue: str
    max_attempts: int
    timeout: int
    public: bool
    params: type[BaseModel]
    # Exponential backoff: attempt n waits about retry_backoff * 2**(n-1) seconds, with
    # jitter, never more than retry_backoff_max.
    retry_backoff: float
    retry_backoff_max: float
    description: str
    # Run by the dispatcher on this period (a schedule), or None.
    every: timedelta | None = None


class UnknownJobKind(LookupError):
    pass


_kinds: dict[str, JobKind] = {}


def job(
    name: str,
    *,
    queue: str = Queue.DEFAULT,
    max_attempts: int = 3,
    timeout: int = 600,
    public: bool = False,
    params: type[BaseModel] = NoParams,
    retry_backoff: float = 10.0,
    retry_backoff_max: float = 3600.0,
    every: timedelta | None = None,
) -> Callable[[Callable], Callable]:
    """Register ``func(ctx, params)`` as a job kind. Its docstring describes it to users."""
    if queue not in Queue.values:
        raise ValueError(f"Job kind {name!r}: queue must be one of {', '.join(Queue.values)}")
    if max_attempts < 1 or timeout < 1:
        raise ValueError(f"Job kind {name!r}: max_attempts and timeout must be at least 1")

    def register(func: Callable) -> Callable:
        if name in _kinds and _kinds[name].func is not func:
            raise ValueError(f"Job kind {name!r} is registered twice")
        _kinds[name] = JobKind(
            name=name,
            func=func,
            queue=queue,
            max_attempts=max_attempts,
            timeout=timeout,
            public=public,
            params=params,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            description=(func.__doc__ or "").strip().split("\n")[0],
            every=every,
        )
        return func

    return register


def kind_get(name: str) -> JobKind:
    try:
        return _kinds[name]
    except KeyError:
        raise UnknownJobKind(f"Unknown job kind {name!r}.") from None


def kinds_all() -> list[JobKind]:
    return sorted(_kinds.values(), key=lambda kind: kind.name)
