"""The catalogue of job kinds: ``@job("reports.generate", queue="default", ...)``."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from pydantic import BaseModel, ConfigDict

from apps.jobs.errors import UnknownJobKind
from apps.jobs.models import Queue


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class UserQuota:
    """A kind's own cap on how many of its jobs one user may have waiting or running."""

    # The setting that holds the cap, read at each submit; 0 means no cap.
    setting: str
    # What the jobs are to the user, for the refusal: "report runs".
    noun: str

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.setting))


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
    # Tighter bounds for what a non-staff user submits (staff get ``params``), or None.
    user_params: type[BaseModel] | None = None
    # A cap of this kind's own, besides JOBS_USER_MAX_ACTIVE, or None.
    user_quota: UserQuota | None = None
    # For a kind whose every job writes a record of its own (reports.generate: a report
    # run): the service that takes each submit of it (the options of
    # services.job_get_or_enqueue), validates the request, records it, records the job
    # that carries the record's id (services.job_record) and returns (job, created) ...
    submit: Callable[..., tuple[Any, bool]] | None = None
    # ... and the model of the request that service takes: what users see as the kind's
    # parameters. ``params`` is then the model of what the job itself carries.
    submit_params: type[BaseModel] | None = None

    def params_for(self, *, staff: bool) -> type[BaseModel]:
        """The model of the parameters a user submits (GET /api/jobs/kinds shows its schema)."""
        if self.submit_params is not None:
            return self.submit_params
        return self.job_params_for(staff=staff)

    def job_params_for(self, *, staff: bool) -> type[BaseModel]:
        """The model a job's own parameters are checked with when it is recorded."""
        return self.params if staff or self.user_params is None else self.user_params


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
    user_params: type[BaseModel] | None = None,
    user_quota: UserQuota | None = None,
    submit: Callable[..., tuple[Any, bool]] | None = None,
    submit_params: type[BaseModel] | None = None,
) -> Callable[[Callable], Callable]:
    """Register ``func(ctx, params)`` as a job kind. Its docstring describes it to users.

    Scheduled kinds (``every``) run on the system queue, which users cannot reach; a
    public kind cannot be put there. A kind with a ``submit`` service of its own names the
    request model it takes (``submit_params``).
    """
    if queue not in Queue.values:
        raise ValueError(f"Job kind {name!r}: queue must be one of {', '.join(Queue.values)}")
    if max_attempts < 1 or timeout < 1:
        raise ValueError(f"Job kind {name!r}: max_attempts and timeout must be at least 1")
    if public and queue == Queue.SYSTEM:
        raise ValueError(f"Job kind {name!r}: a public kind cannot run on the system queue")
    if every is not None and queue != Queue.SYSTEM:
        raise ValueError(f"Job kind {name!r}: a scheduled kind runs on the system queue")
    if (submit is None) != (submit_params is None):
        raise ValueError(f"Job kind {name!r}: a submit service and its submit_params come together")

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
            user_params=user_params,
            user_quota=user_quota,
            submit=submit,
            submit_params=submit_params,
        )
        return func

    return register


def kind_get(name: str) -> JobKind:
    """The kind registered as ``name``; UnknownJobKind (a JobInputError) if there is none."""
    try:
        return _kinds[name]
    except KeyError:
        raise UnknownJobKind(name) from None


def kind_find(name: str) -> JobKind | None:
    """The kind registered as ``name``, or None (a job of a kind since removed)."""
    return _kinds.get(name)


def kinds_all() -> list[JobKind]:
    return sorted(_kinds.values(), key=lambda kind: kind.name)


def kinds_submittable(*, staff: bool) -> list[JobKind]:
    """The kinds a user may submit: the public ones; every kind for staff."""
    return [kind for kind in kinds_all() if kind.public or staff]
