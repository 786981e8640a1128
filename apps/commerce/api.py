"""The commerce JSON API: orders and customers of the TPC-H data set, read-only.

The orders list is the model for every list endpoint: filters in a Query schema,
keyset pagination (``{"items": [...], "next": cursor}``), one query per page whatever
its size.
"""

from django.http import HttpRequest
from django.urls import reverse
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError

from apps.commerce import documents, selectors
from apps.commerce.schemas import (
    CustomerOut,
    OrderDetailOut,
    OrderListQuery,
    OrderPageOut,
)
from apps.commerce.services import ImportInputError, ImportTooLarge, import_enqueue
from apps.commerce.uploads import upload_limit_text, upload_refusal
from apps.core.api import ERRORS, ErrorOut, page_limit
from apps.core.caching import json_response

router = Router(tags=["commerce"])


@router.get("/orders", response={200: OrderPageOut, **ERRORS}, summary="List orders, newest first")
def list_orders(request: HttpRequest, query: Query[OrderListQuery]):
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise HttpError(
            422, f"Invalid input: date_from ({query.date_from}) is after date_to ({query.date_to})."
        )
    # A cursor no page issued is a 422 (InvalidCursor, apps.core.api).
    after = selectors.ORDER_KEYSET.decode(query.cursor) if query.cursor else None
    limit = page_limit(query.limit)
    base = request.build_absolute_uri(request.path)
    return json_response(
        request, documents.orders_page_json(query=query, limit=limit, after=after, base=base)
    )


@router.get("/orders/{order_id}", response={200: OrderDetailOut, **ERRORS}, summary="An order and its lines")
def get_order(request: HttpRequest, order_id: int):
    payload = documents.order_detail_json(order_id=order_id)
    if payload is None:
        raise HttpError(404, f"Order {order_id} does not exist.")
    # Conditional GET: a client that has this version gets a bodyless 304.
    return json_response(request, payload)


@router.get(
    "/customers/{customer_id}",
    response={200: CustomerOut, **ERRORS},
    summary="A customer with order count and total spent",
)
def get_customer(request: HttpRequest, customer_id: int):
    payload = documents.customer_summary_json(customer_id=customer_id)
    if payload is None:
        raise HttpError(404, f"Customer {customer_id} does not exist.")
    return json_response(request, payload)


class ImportJobOut(Schema):
    id: str
    kind: str
    status: str
    table: str
    filename: str
    url: str
    page: str


@router.post(
    "/imports",
    response={202: ImportJobOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    summary="Import a CSV file of customers, orders, line items or parts (staff)",
    description="Multipart form: `table` (customer, orders, lineitem or part) and `file` (CSV in the "
    "`tpchgen-cli csv` column layout, with its header). The import runs as a job: poll `url` for its "
    "progress and result (`result.imported`, and `result.errors` with line numbers when nothing was "
    "imported). Staff only: an import writes data every user sees.",
)
def create_import(request: HttpRequest, table: Form[str] = "", file: File[UploadedFile] = None):
    if not request.user.is_staff:
        raise HttpError(403, "Importing data is for staff.")
    refusal = upload_refusal(request)
    if refusal:
        raise HttpError(413, refusal)
    if file is None:
        raise HttpError(
            422,
            f"Invalid input: attach the CSV file as the multipart field `file` "
            f"(up to {upload_limit_text()}).",
        )
    try:
        job = import_enqueue(table=table, file=file, owner=request.user)
    except ImportTooLarge as exc:
        raise HttpError(413, str(exc)) from None
    except ImportInputError as exc:
        raise HttpError(422, f"Invalid input: {exc}") from None
    return Status(
        202,
        {
            "id": str(job.uuid),
            "kind": job.kind,
            "status": job.status,
            "table": job.params["table"],
            "filename": job.params["filename"],
            "url": reverse("api:job_detail", args=[job.uuid]),
            "page": reverse("jobs:detail", args=[job.uuid]),
        },
    )
