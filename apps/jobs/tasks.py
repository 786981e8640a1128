"""The django-q2 entry point and the built-in diagnostic job kinds."""

import time
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from apps.jobs import runner, services
from apps.jobs.models import Queue
from apps.jobs.registry import job


def run(job_id: int) -> str:
    """What every django-q2 message runs: one tracked job, by id."""
    return runner.execute(job_id, in_worker=True)


@job("diagnostics.noop", queue=Queue.DEFAULT, max_attempts=1, timeout=30, public=True)
def noop(ctx, params) -> dict:
    """Does nothing: measures the job system's own overhead."""
    return {"ok": True}


# Diagnostics are open to every user so that they can try the job system out; their
# bounds for non-staff are small (a worker held a minute at most), staff's are not.
USER_SLEEP_SECONDS = 60
USER_SLEEP_STEPS = 100
USER_FAIL_TIMES = 10


class SleepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=5.0, ge=0, le=3600, description="Total time to sleep.")
    steps: int = Field(default=10, ge=1, le=10000, description="Progress reports along the way.")


class UserSleepParams(SleepParams):
    seconds: float = Field(default=5.0, ge=0, le=USER_SLEEP_SECONDS, description="Total time to sleep.")
    steps: int = Field(default=10, ge=1, le=USER_SLEEP_STEPS, description="Progress reports along the way.")


@job(
    "diagnostics.sleep",
    max_attempts=1,
    timeout=3700,
    public=True,
    params=SleepParams,
    user_params=UserSleepParams,
)
def sleep(ctx, params: SleepParams) -> dict:
    """Sleeps in steps, reporting progress at each one; honours cancel."""
    pause = params.seconds / params.steps
    for step in range(params.steps):
        ctx.progress(step, params.steps, f"step {step + 1} of {params.steps}")
        time.sleep(pause)
    ctx.progress(params.steps, params.steps, "done")
    ctx.log(f"slept {params.seconds:g}s in {params.steps} steps")
    return {"slept": params.seconds}


class FailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    times: int = Field(default=1, ge=0, le=1000, description="Attempts that fail before one succeeds.")


class UserFailParams(FailParams):
    times: int = Field(
        default=1, ge=0, le=USER_FAIL_TIMES, description="Attempts that fail before one succeeds."
    )


@job(
    "diagnostics.fail",
    max_attempts=3,
    timeout=30,
    public=True,
    params=FailParams,
    user_params=UserFailParams,
    retry_backoff=1.0,
    retry_backoff_max=30.0,
)
def fail(ctx, params: FailParams) -> dict:
    """Fails its first N attempts, then succeeds: exercises retries and dead letters."""
    if ctx.attempt <= params.times:
        ctx.log(f"attempt {ctx.attempt}: failing on purpose")
        raise RuntimeError(f"Failing on purpose (attempt {ctx.attempt} of the first {params.times}).")
    return {"succeeded_on_attempt": ctx.attempt}


class HangParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=60.0, ge=0, le=3600)


@job("diagnostics.hang", max_attempts=1, timeout=5, public=False, params=HangParams)
def hang(ctx, params: HangParams) -> dict:
    """Sleeps without reporting progress or checking for cancel: tests timeouts and forced cancel."""
    time.sleep(params.seconds)
    return {"slept": params.seconds}


@job("jobs.prune", queue=Queue.SYSTEM, max_attempts=3, timeout=600, every=timedelta(hours=1))
def prune(ctx, params) -> dict:
    """Deletes finished jobs older than the retention period."""
    return {"deleted": services.jobs_prune()}
