"""What the GraphQL schema reads: the same rows, and the same access rules, as the JSON API.

Lists come back as unevaluated querysets (one keyset slice each), so that the optimizer
can still add the ``only()``/``select_related()``/``prefetch_related()`` a query's
selection needs before the one query runs. Jobs, report runs and notifications go through
their apps' access selectors: owners see their own, staff everybody's (notifications: each
user their own); an id the user may not see reads exactly like one that does not exist.
"""

import datetime
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from apps.commerce.models import Customer, Order
from apps.commerce.selectors import ORDER_KEYSET
from apps.core.pagination import NEWEST_FIRST, Keyset
from apps.jobs.models import Job
from apps.jobs.selectors import jobs_visible_to
from apps.notifications.models import Notification
from apps.notifications.selectors import NEWEST_ID_FIRST, notifications_for_user
from apps.reports.models import ReportRun
from apps.reports.selectors import report_runs_visible_to


def keyset_slice(
    rows: QuerySet, *, keyset: Keyset, first: int, after: str | None, **filters: object
) -> QuerySet:
    """The first ``first`` rows after the cursor ``after`` in the keyset's order, unevaluated.

    ``filters`` are lookups; one whose value is None or "" was not asked for. A cursor no
    list issued raises InvalidCursor (apps.core.cursor).
    """
    rows = rows.filter(**{lookup: value for lookup, value in filters.items() if value not in (None, "")})
    if after:
        rows = rows.filter(keyset.beyond(keyset.decode(after)))
    return rows.order_by(*keyset.ordering())[:first]


def orders_slice(
    *,
    first: int,
    after: str | None,
    customer_id: int | None = None,
    status: str | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[Order]:
    """Orders newest first by (order_date, id), the index the JSON API's list uses."""
    return keyset_slice(
        Order.objects.all(),
        keyset=ORDER_KEYSET,
        first=first,
        after=after,
        customer_id=customer_id,
        status=status,
        order_date__gte=date_from,
        order_date__lte=date_to,
    )


def order_lookup(*, order_id: int) -> QuerySet[Order]:
    return Order.objects.filter(pk=order_id)


def customers_slice(
    *, first: int, after: str | None, market_segment: str | None = None
) -> QuerySet[Customer]:
    """Customers by key, highest first (the primary key's index)."""
    customers = Customer.objects.all()
    return keyset_slice(
        customers, keyset=NEWEST_ID_FIRST, first=first, after=after, market_segment=market_segment
    )


def customer_lookup(*, customer_id: int) -> QuerySet[Customer]:
    return Customer.objects.filter(pk=customer_id)


def jobs_slice(
    *,
    user: AbstractBaseUser,
    first: int,
    after: str | None,
    status: str | None = None,
    kind: str | None = None,
) -> QuerySet[Job]:
    """The user's jobs (staff: everybody's), newest first."""
    jobs = jobs_visible_to(user=user)
    return keyset_slice(jobs, keyset=NEWEST_FIRST, first=first, after=after, status=status, kind=kind)


def job_lookup(*, user: AbstractBaseUser, job_id: UUID) -> QuerySet[Job]:
    return jobs_visible_to(user=user).filter(uuid=job_id)


def report_runs_slice(
    *, user: AbstractBaseUser, first: int, after: str | None, report: str | None = None
) -> QuerySet[ReportRun]:
    """The user's report runs (staff: everybody's), newest first."""
    runs = report_runs_visible_to(user=user)
    return keyset_slice(runs, keyset=NEWEST_FIRST, first=first, after=after, report=report)


def report_run_lookup(*, user: AbstractBaseUser, run_id: UUID) -> QuerySet[ReportRun]:
    return report_runs_visible_to(user=user).filter(uuid=run_id)


def notifications_slice(
    *, user: AbstractBaseUser, first: int, after: str | None, unread_only: bool = False
) -> QuerySet[Notification]:
    """The user's own notifications, newest first (staff too: notifications are personal)."""
    notifications = notifications_for_user(user=user, unread_only=unread_only)
    return keyset_slice(notifications, keyset=NEWEST_ID_FIRST, first=first, after=after)


def notification_lookup(*, user: AbstractBaseUser, notification_id: int) -> QuerySet[Notification]:
    return notifications_for_user(user=user).filter(pk=notification_id)
