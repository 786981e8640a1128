"""The GraphQL schema: the reads of the JSON API in one round trip, and job submit/cancel.

Resolvers call one selector or service each. Lists take ``first`` (default API_PAGE_SIZE,
at most API_MAX_PAGE_SIZE) and ``after`` (the ``cursor`` of the last item seen) and read
one keyset slice; an id the user may not see is ``null``, as an unknown one is. A refusal
is a GraphQL error whose ``extensions.code`` says which (BAD_USER_INPUT, FORBIDDEN,
CONFLICT, QUOTA_EXCEEDED with ``retryAfter``, NOT_FOUND), with the JSON API's message.
"""

import datetime
import uuid

import strawberry
import strawberry_django
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import QuerySet
from django.http import Http404
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry_django.optimizer import DjangoOptimizerExtension, optimize

from apps.core.cursor import InvalidCursor
from apps.graphql_api import selectors
from apps.graphql_api.limits import SCHEMA_LIMITS, unexpected_error
from apps.graphql_api.types import (
    CustomerType,
    JobType,
    NotificationType,
    OrderType,
    ReportRunType,
)
from apps.jobs import selectors as job_selectors
from apps.jobs import services as job_services
from apps.jobs.errors import (
    JobIdempotencyConflict,
    JobInputError,
    JobNotAllowed,
    JobQuotaExceeded,
    JobStateError,
    UnknownJobKind,
)


def refusal(message: str, code: str, **extensions) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def _first(first: int | None) -> int:
    """The page size: API_PAGE_SIZE when not asked, never above API_MAX_PAGE_SIZE."""
    if first is None:
        return settings.API_PAGE_SIZE
    if first < 1:
        raise refusal(f"Invalid input: first must be at least 1 (got {first}).", "BAD_USER_INPUT")
    return min(first, settings.API_MAX_PAGE_SIZE)


def _listed(build, *, first: int | None, after: str | None, **filters) -> QuerySet:
    try:
        return build(first=_first(first), after=after, **filters)
    except InvalidCursor as exc:
        raise refusal(f"Invalid input: after: {exc}", "BAD_USER_INPUT") from None


def _one(rows: QuerySet, info: Info):
    """The one row of ``rows`` with what the query selects, or None."""
    return optimize(rows, info).first()


def _user(info: Info):
    return info.context.request.user


@strawberry.type
class Query:
    @strawberry_django.field(description="Orders, newest first (order date, then key).")
    def orders(
        self,
        first: int | None = None,
        after: str | None = None,
        customer_id: int | None = None,
        status: str | None = None,
        date_from: datetime.date | None = None,
        date_to: datetime.date | None = None,
    ) -> list[OrderType]:
        return _listed(
            selectors.orders_slice,
            first=first,
            after=after,
            customer_id=customer_id,
            status=status,
            date_from=date_from,
            date_to=date_to,
        )

    @strawberry_django.field(description="An order by its key (TPC-H o_orderkey); null if none.")
    def order(self, info: Info, id: int) -> OrderType | None:
        return _one(selectors.order_lookup(order_id=id), info)

    @strawberry_django.field(description="Customers, highest key first.")
    def customers(
        self, first: int | None = None, after: str | None = None, market_segment: str | None = None
    ) -> list[CustomerType]:
        return _listed(selectors.customers_slice, first=first, after=after, market_segment=market_segment)

    @strawberry_django.field(description="A customer by key (TPC-H c_custkey); null if none.")
    def customer(self, info: Info, id: int) -> CustomerType | None:
        return _one(selectors.customer_lookup(customer_id=id), info)

    @strawberry_django.field(description="Your jobs (staff: everybody's), newest first.")
    def jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> list[JobType]:
        return _listed(
            selectors.jobs_slice, user=_user(info), first=first, after=after, status=status, kind=kind
        )

    @strawberry_django.field(description="A job by id; null if there is none you may see.")
    def job(self, info: Info, id: uuid.UUID) -> JobType | None:
        return _one(selectors.job_lookup(user=_user(info), job_id=id), info)

    @strawberry_django.field(description="Your report runs (staff: everybody's), newest first.")
    def report_runs(
        self, info: Info, first: int | None = None, after: str | None = None, report: str | None = None
    ) -> list[ReportRunType]:
        return _listed(selectors.report_runs_slice, user=_user(info), first=first, after=after, report=report)

    @strawberry_django.field(description="A report run by id; null if there is none you may see.")
    def report_run(self, info: Info, id: uuid.UUID) -> ReportRunType | None:
        return _one(selectors.report_run_lookup(user=_user(info), run_id=id), info)

    @strawberry_django.field(description="Your notifications, newest first.")
    def notifications(
        self, info: Info, first: int | None = None, after: str | None = None, unread_only: bool = False
    ) -> list[NotificationType]:
        return _listed(
            selectors.notifications_slice, user=_user(info), first=first, after=after, unread_only=unread_only
        )

    @strawberry_django.field(description="One of your notifications; null if there is none.")
    def notification(self, info: Info, id: int) -> NotificationType | None:
        return _one(selectors.notification_lookup(user=_user(info), notification_id=id), info)


def _job_refusal(exc: JobInputError | JobStateError) -> GraphQLError:
    """The error for a submit or cancel the jobs services refused (as POST /api/jobs answers)."""
    if isinstance(exc, JobQuotaExceeded):
        return refusal(str(exc), "QUOTA_EXCEEDED", retryAfter=exc.retry_after)
    if isinstance(exc, JobNotAllowed):
        return refusal(str(exc), "FORBIDDEN")
    if isinstance(exc, JobStateError | JobIdempotencyConflict):
        return refusal(str(exc), "CONFLICT")
    if isinstance(exc, UnknownJobKind):
        return refusal(
            f"Unknown job kind {exc.name!r}; GET /api/jobs/kinds lists the ones you may submit.",
            "BAD_USER_INPUT",
        )
    return refusal(str(exc), "BAD_USER_INPUT")


def _submit_checked(
    *, params: object, run_at: datetime.datetime | None, idempotency_key: str | None, webhook_url: str | None
) -> None:
    """The shape checks POST /api/jobs makes before the jobs services see a submit."""
    problem = None
    if params is not None and not isinstance(params, dict):
        problem = "params must be an object."
    elif run_at is not None and run_at.tzinfo is None:
        problem = "runAt needs a timezone, e.g. 2030-01-01T12:00:00Z."
    elif idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        problem = "idempotencyKey must be 1 to 200 characters."
    elif webhook_url:
        try:
            URLValidator(schemes=["http", "https"])(webhook_url)
        except ValidationError:
            problem = "webhookUrl must be an http:// or https:// URL."
        if len(webhook_url) > 500:
            problem = "webhookUrl may have at most 500 characters."
    if problem:
        raise refusal(f"Invalid input: {problem}", "BAD_USER_INPUT")


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Submit a job, with the rules of POST /api/jobs: public kinds for non-staff, the "
        "kind's queue or a lower one, runAt at most JOBS_MAX_SCHEDULE_DAYS ahead, a webhookUrl to a "
        "public address, and the per-user quotas (QUOTA_EXCEEDED with retryAfter)."
    )
    def submit_job(
        self,
        info: Info,
        kind: str,
        params: JSON | None = None,
        queue: str | None = None,
        run_at: datetime.datetime | None = None,
        idempotency_key: str | None = None,
        webhook_url: str | None = None,
    ) -> JobType:
        _submit_checked(
            params=params, run_at=run_at, idempotency_key=idempotency_key, webhook_url=webhook_url
        )
        try:
            return job_services.enqueue(
                kind,
                params=params or {},
                owner=_user(info),
                queue=queue,
                run_at=run_at,
                idempotency_key=idempotency_key,
                webhook_url=webhook_url or "",
                user_submitted=True,
            )
        except JobInputError as exc:
            raise _job_refusal(exc) from None

    @strawberry.mutation(
        description="Cancel your job (staff: anyone's): a waiting job at once, a running one is asked "
        "to stop. NOT_FOUND for an id you may not see."
    )
    def cancel_job(self, info: Info, id: uuid.UUID) -> JobType:
        try:
            job = job_selectors.job_get_for_user(user=_user(info), job_id=id)
        except Http404 as exc:
            raise refusal(str(exc), "NOT_FOUND") from None
        try:
            return job_services.job_cancel(job=job, by=_user(info))
        except JobStateError as exc:
            raise _job_refusal(exc) from None


class TempoSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        # Logged with their traceback: only the bugs. Refusals and invalid documents are
        # answers to the client, not events for the operators.
        super().process_errors([error for error in errors if unexpected_error(error)], execution_context)


schema = TempoSchema(
    query=Query,
    mutation=Mutation,
    extensions=[*SCHEMA_LIMITS, DjangoOptimizerExtension],
)
