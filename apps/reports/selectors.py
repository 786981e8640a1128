"""Reads: the rows of a report, streamed from the database, and report runs by access.

Access rule (as for jobs): owners see their own runs, staff see all; anyone else gets
a 404, never a 403, so that other users' run ids are not confirmed.
"""

import datetime
from collections.abc import Iterator
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from apps.reports.catalog import ColumnKind, ReportDefinition, ReportQuery, SqlQuery
from apps.reports.models import ReportRun


def report_rows(*, definition: ReportDefinition, query: ReportQuery, chunk_size: int) -> Iterator[tuple]:
    """The rows of ``query``, fetched ``chunk_size`` at a time.

    Exports (``streamed``) run on a server-side cursor on PostgreSQL (Django's chunked
    cursor, a named cursor; querysets through ``iterator(chunk_size=…)``), and on
    SQLite's own cursor, which steps through the result lazily: memory stays flat
    however many rows there are.

    Reports return a bounded handful of rows (aggregates, "top N"), so they use a plain
    cursor: PostgreSQL plans a cursor's query for its first 10 % of rows and never runs
    it in parallel, which made Q1, Q3 and Q5 up to 2.5x slower than in psql (scale 0.1).
    """
    # SQLite hands back dates as text from plain SQL (the ORM would convert them).
    dates = [
        index
        for index, column in enumerate(definition.columns)
        if column.kind == ColumnKind.DATE and connection.vendor == "sqlite"
    ]
    if not isinstance(query, SqlQuery):
        yield from query.iterator(chunk_size=chunk_size) if definition.streamed else query
        return
    cursor = connection.chunked_cursor() if definition.streamed else connection.cursor()
    with cursor:
        cursor.execute(query.sql, query.params)
        while chunk := cursor.fetchmany(chunk_size):
            if not dates:
                yield from chunk
                continue
            for row in chunk:
                values = list(row)
                for index in dates:
                    if isinstance(values[index], str):
                        values[index] = datetime.date.fromisoformat(values[index])
                yield tuple(values)


def report_row_count(*, query: ReportQuery) -> int | None:
    """How many rows an export will write (one COUNT), or None for plain SQL."""
    if isinstance(query, SqlQuery):
        return None
    return query.order_by().count()


def report_runs_visible_to(*, user: AbstractBaseUser) -> QuerySet[ReportRun]:
    runs = ReportRun.objects.all()
    if not user.is_staff:
        runs = runs.filter(owner=user)
    return runs


def report_run_get_for_user(*, user: AbstractBaseUser, run_id: UUID | str) -> ReportRun:
    """The run with this public id if ``user`` may see it (with its job); Http404 otherwise."""
    try:
        key = UUID(str(run_id))
    except ValueError:
        raise Http404("No such report run.") from None
    run = (
        report_runs_visible_to(user=user)
        .select_related("job", "owner")
        .defer("job__log", "job__traceback")
        .filter(uuid=key)
        .first()
    )
    if run is None:
        raise Http404("No such report run.")
    return run


def report_runs_list_for_user(*, user: AbstractBaseUser) -> QuerySet[ReportRun]:
    """Newest first, each with its job (one query)."""
    return (
        report_runs_visible_to(user=user)
        .select_related("job", "owner")
        .defer("job__log", "job__traceback", "job__result")
        .order_by("-created_at", "-id")
    )


def report_runs_by_ids_for_user(*, user: AbstractBaseUser, run_ids: list[UUID]) -> list[ReportRun]:
    """Several runs with their jobs in one query (the list page's poll); unknown ids skipped."""
    return list(report_runs_list_for_user(user=user).filter(uuid__in=run_ids))


def report_run_get(*, run_id: int) -> ReportRun | None:
    """The run with this primary key (what a generate job carries), or None."""
    return ReportRun.objects.filter(pk=run_id).first()


def report_run_of_job(*, job_id: int) -> ReportRun | None:
    """The run that the generate job ``job_id`` writes, or None (a job of another kind)."""
    return ReportRun.objects.filter(job_id=job_id).first()


def report_runs_expired(*, now: datetime.datetime) -> QuerySet[ReportRun]:
    """Runs whose file is past its expiry and still stored."""
    return ReportRun.objects.filter(expires_at__lte=now).exclude(file_name="").order_by("expires_at")
