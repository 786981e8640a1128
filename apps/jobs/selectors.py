"""Reads of jobs, with the access rule in one place: owners see their own, staff see all."""

from datetime import datetime
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet, TextChoices
from django.http import Http404
from django_q.status import Stat

from apps.core.pagination import NEWEST_FIRST, KeysetPage, keyset_page
from apps.jobs import broker
from apps.jobs.models import Job, Queue


def jobs_visible_to(*, user: AbstractBaseUser) -> QuerySet[Job]:
    jobs = Job.objects.all()
    if not user.is_staff:
        jobs = jobs.filter(owner=user)
    return jobs


def job_get_for_user(*, user: AbstractBaseUser, job_id: UUID | str) -> Job:
    """The job with this public id if ``user`` may see it; Http404 otherwise (never 403:
    another user's job ids must not be confirmed)."""
    try:
        key = UUID(str(job_id))
    except ValueError:
        raise Http404("No such job.") from None
    job = jobs_visible_to(user=user).select_related("owner").filter(uuid=key).first()
    if job is None:
        raise Http404("No such job.")
    return job


class JobScope(TextChoices):
    """Whose jobs a list shows. Users see only their own, whatever they ask for."""

    MINE = "mine", "Mine"
    # Every user's jobs, not the system's: what users are running.
    EVERYONE = "everyone", "Everyone"
    # What no user asked for: schedules (no owner) and the system queue's work.
    SYSTEM = "system", "System"


def _system_jobs() -> Q:
    return Q(owner__isnull=True) | Q(queue=Queue.SYSTEM)


def jobs_list_for_user(
    *,
    user: AbstractBaseUser,
    status: str | None = None,
    kind: str | None = None,
    queue: str | None = None,
    scope: str | None = None,
) -> QuerySet[Job]:
    """Newest first, without the bulky columns lists do not show; owners see their own.

    Staff narrow the list with ``scope`` (a JobScope; None: all jobs); for everyone
    else it is always their own jobs.
    """
    jobs = jobs_list(status=status, kind=kind, queue=queue)
    if not user.is_staff or scope == JobScope.MINE:
        return jobs.filter(owner=user)
    if scope == JobScope.EVERYONE:
        return jobs.exclude(_system_jobs())
    if scope == JobScope.SYSTEM:
        return jobs.filter(_system_jobs())
    return jobs


def jobs_by_ids_for_user(*, user: AbstractBaseUser, job_ids: list[UUID]) -> list[Job]:
    """Many jobs in one query (pages that poll several jobs at once); unknown ids are skipped."""
    return list(jobs_visible_to(user=user).filter(uuid__in=job_ids).defer("log", "traceback"))


# --- Added for the API list and the `jobs` command -----------------------------------

JobKey = tuple[datetime, int]


def jobs_page_for_user(
    *,
    user: AbstractBaseUser,
    status: str | None = None,
    kind: str | None = None,
    queue: str | None = None,
    scope: str | None = None,
    limit: int,
    after: JobKey | None = None,
    before: JobKey | None = None,
) -> KeysetPage:
    """One keyset page, newest first, by (created_at, id), the list's sort order: a page
    costs one query however deep it is. ``before`` a key: the jobs just newer than it
    (the page before it, or what was created since a page showed that job)."""
    jobs = jobs_list_for_user(user=user, status=status, kind=kind, queue=queue, scope=scope)
    return keyset_page(jobs, keyset=NEWEST_FIRST, size=limit, after=after, before=before)


def jobs_list(
    *, status: str | None = None, kind: str | None = None, queue: str | None = None
) -> QuerySet[Job]:
    """All jobs, newest first (operators: admin and commands)."""
    jobs = Job.objects.select_related("owner").defer("log", "traceback", "params")
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    if queue:
        jobs = jobs.filter(queue=queue)
    return jobs.order_by("-created_at", "-id")


def job_get_by_uuid(*, job_id: UUID | str) -> Job | None:
    """Any job by its public id (operators); None if there is none or the id is malformed."""
    try:
        key = UUID(str(job_id))
    except ValueError:
        return None
    return Job.objects.select_related("owner").filter(uuid=key).first()


# --- the broker, for monitoring (the broker module itself is private to this app) ----------


def queue_depth(*, queue: str) -> int | None:
    """Messages waiting in the broker for ``queue``; None while the broker is unreachable."""
    return broker.queue_size(queue)


def worker_cluster_stats() -> list[Stat]:
    """django-q2's stats of its live clusters (they expire within seconds of a cluster stopping)."""
    return Stat.get_all(broker=broker.broker_for(Queue.DEFAULT))
