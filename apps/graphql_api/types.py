"""The GraphQL object types: one per model the JSON API shows, read through the optimizer.

Fields are the models' own, so that strawberry_django's optimizer turns a query's selection
into one ``only()``/``select_related()``/``prefetch_related()`` per list. A computed field
names the columns and relations it reads (``only=``, ``select_related=``) for the same
reason. Public ids are what the JSON API shows: a job's and a report run's UUID.
"""

import datetime
import decimal
import uuid

import strawberry_django
from django.db.models import QuerySet
from django.urls import reverse
from strawberry.scalars import JSON
from strawberry.types import Info

from apps.commerce.models import Customer, LineItem, Order
from apps.commerce.selectors import ORDER_KEYSET
from apps.core.pagination import NEWEST_FIRST
from apps.jobs.models import Job, JobAttempt
from apps.notifications.models import Notification
from apps.notifications.selectors import NEWEST_ID_FIRST
from apps.reports.models import ReportRun


@strawberry_django.type(Customer)
class CustomerType:
    id: int
    name: str
    address: str
    phone: str
    account_balance: decimal.Decimal
    market_segment: str
    comment: str

    @strawberry_django.field(only=["nation_id"], description="The customer's nation (TPC-H n_nationkey).")
    def nation_key(self, root: Customer) -> int:
        return root.nation_id

    @strawberry_django.field(only=["id"], description="Pass as `after` to continue after this customer.")
    def cursor(self, root: Customer) -> str:
        return NEWEST_ID_FIRST.encode((root.id,))


@strawberry_django.type(LineItem)
class LineItemType:
    line_number: int
    quantity: decimal.Decimal
    extended_price: decimal.Decimal
    discount: decimal.Decimal
    tax: decimal.Decimal
    return_flag: str
    line_status: str
    ship_date: datetime.date
    commit_date: datetime.date
    receipt_date: datetime.date
    ship_instructions: str
    ship_mode: str
    comment: str

    @classmethod
    def get_queryset(cls, queryset: QuerySet[LineItem], info: Info, **kwargs) -> QuerySet[LineItem]:
        # Lines in their order, also when prefetched for a list of orders.
        return queryset.order_by("order_id", "line_number")

    @strawberry_django.field(only=["part_id"], description="TPC-H p_partkey.")
    def part_key(self, root: LineItem) -> int:
        return root.part_id

    @strawberry_django.field(only=["supplier_id"], description="TPC-H s_suppkey.")
    def supplier_key(self, root: LineItem) -> int:
        return root.supplier_id


@strawberry_django.type(Order)
class OrderType:
    id: int
    status: str
    total_price: decimal.Decimal
    order_date: datetime.date
    priority: str
    clerk: str
    ship_priority: int
    comment: str
    customer: CustomerType
    # An order has at most seven lines in TPC-H: no page of its own.
    line_items: list[LineItemType]

    @strawberry_django.field(
        only=["order_date", "id"], description="Pass as `after` to continue after this order."
    )
    def cursor(self, root: Order) -> str:
        return ORDER_KEYSET.encode(ORDER_KEYSET.key_of(root))


@strawberry_django.type(JobAttempt)
class JobAttemptType:
    number: int
    worker: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    outcome: str
    error: str
    retry_delay: float | None


@strawberry_django.type(Job)
class JobType:
    kind: str
    queue: str
    status: str
    params: JSON
    result: JSON | None
    error: str
    progress_done: int
    progress_total: int | None
    progress_message: str
    max_attempts: int
    created_at: datetime.datetime
    run_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    cancel_requested_at: datetime.datetime | None
    attempts: list[JobAttemptType] = strawberry_django.field(field_name="attempt_history")

    @strawberry_django.field(only=["uuid"], description="The job's public id (as in /api/jobs).")
    def id(self, root: Job) -> uuid.UUID:
        return root.uuid

    @strawberry_django.field(only=["attempts"], description="How many attempts have started.")
    def attempt_count(self, root: Job) -> int:
        return root.attempts

    @strawberry_django.field(
        only=["status", "progress_done", "progress_total"],
        description="Percent done when the job knows its total (100 once succeeded).",
    )
    def percent(self, root: Job) -> float | None:
        return root.percent

    @strawberry_django.field(
        only=["created_at", "id"], description="Pass as `after` to continue after this job."
    )
    def cursor(self, root: Job) -> str:
        return NEWEST_FIRST.encode(NEWEST_FIRST.key_of(root))


@strawberry_django.type(ReportRun)
class ReportRunType:
    report: str
    params: JSON
    format: str
    rows: int | None
    size: int | None
    created_at: datetime.datetime
    generated_at: datetime.datetime | None
    expires_at: datetime.datetime
    job: JobType | None

    @strawberry_django.field(only=["uuid"], description="The run's public id (as in /api/reports).")
    def id(self, root: ReportRun) -> uuid.UUID:
        return root.uuid

    @strawberry_django.field(only=["checksum"], description="SHA-256 of the file, hex.")
    def sha256(self, root: ReportRun) -> str:
        return root.checksum

    @strawberry_django.field(
        only=["expired_at", "file_name", "job__status"],
        select_related=["job"],
        description="queued, running, retrying, ready, failed, cancelled or expired.",
    )
    def state(self, root: ReportRun) -> str:
        return root.state

    @strawberry_django.field(
        only=["uuid", "file_name", "expired_at"],
        description="Where to GET the file (streamed) once the run is ready; null until then.",
    )
    def download_url(self, root: ReportRun, info: Info) -> str | None:
        if not root.is_ready:
            return None
        path = reverse("api:report_run_download", kwargs={"run_id": root.uuid})
        return info.context.request.build_absolute_uri(path)

    @strawberry_django.field(
        only=["created_at", "id"], description="Pass as `after` to continue after this run."
    )
    def cursor(self, root: ReportRun) -> str:
        return NEWEST_FIRST.encode(NEWEST_FIRST.key_of(root))


@strawberry_django.type(Notification)
class NotificationType:
    id: int
    event: str
    title: str
    body: str
    link: str
    level: str
    created_at: datetime.datetime
    read_at: datetime.datetime | None

    @strawberry_django.field(only=["id"], description="Pass as `after` to continue after this notification.")
    def cursor(self, root: Notification) -> str:
        return NEWEST_ID_FIRST.encode((root.id,))
