"""Commerce job kinds: importing an uploaded CSV file, pruning uploads left behind, and
keeping the commerce cache warm (with its warmer for ``manage.py warm_cache``)."""

from contextlib import nullcontext
from datetime import timedelta
from typing import Literal

from django.db.models import Count
from pydantic import BaseModel, ConfigDict, Field

from apps.commerce import documents, services
from apps.commerce.models import Customer
from apps.core import caching
from apps.jobs.models import Queue
from apps.jobs.registry import job

WARM_CUSTOMERS = 1000


class ImportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: Literal["customer", "orders", "lineitem", "part"] = Field(description="The table to import into.")
    upload: str = Field(pattern=r"^imports/[0-9a-f]{32}\.csv$", description="The stored upload's name.")
    filename: str = Field(default="", max_length=255, description="The file's name on the uploader's side.")


# Staff only (public=False): an import writes data everybody sees.
@job("commerce.import_csv", queue=Queue.LOW, max_attempts=2, timeout=3600, params=ImportParams)
def import_csv(ctx, params: ImportParams) -> dict:
    """Checks every row of an uploaded CSV file and imports it into its table, or nothing."""
    ctx.log(f"importing {params.filename or params.upload} into {params.table}")
    outcome = services.import_upload_import(
        table=params.table,
        upload=params.upload,
        filename=params.filename,
        # The context is a Progress: the loading service reports to it directly. The import
        # runs inside one transaction (and a COPY); the context then leaves the writing to
        # the job's heartbeat thread, on a connection of its own.
        progress_factory=lambda label, total: nullcontext(ctx),
    )
    ctx.log(outcome.message)
    ctx.progress(outcome.rows, None, "imported" if outcome.imported else "rejected: nothing imported")
    return outcome.as_result()


@job(
    "commerce.import_uploads_prune", queue=Queue.SYSTEM, max_attempts=3, timeout=600, every=timedelta(hours=6)
)
def import_uploads_prune(ctx, params) -> dict:
    """Deletes stored import uploads older than IMPORT_UPLOAD_RETENTION_DAYS."""
    return {"deleted": services.import_uploads_prune()}


@caching.warmer("commerce.customer_summary")
def customer_summaries_warm(limit: int = WARM_CUSTOMERS) -> int:
    """Cache the summaries of the customers with the most orders (the most expensive ones).

    The ranking reads every order once: it runs in a job or a command, never a request.
    """
    top = (
        Customer.objects.annotate(n=Count("orders")).order_by("-n", "id").values_list("id", flat=True)[:limit]
    )
    count = 0
    for customer_id in top:
        summary = documents.customer_summary_serialize(customer_id=customer_id)
        if summary is None:  # deleted since the ranking
            continue
        caching.cached_put(
            documents.customer_summary_key(customer_id),
            caching.JsonBody.of(summary),
            ttl=documents.DETAIL_TTL,
            stale_ttl=documents.DETAIL_STALE_TTL,
        )
        count += 1
    return count


class WarmParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=WARM_CUSTOMERS, ge=1, le=100_000, description="Customers to warm.")


# Every few minutes, so that the hottest summaries never expire under load (their stale
# window is longer than the period); `manage.py warm_cache` does the same after a deploy.
@job(
    "commerce.cache_warm",
    queue=Queue.SYSTEM,
    max_attempts=1,
    timeout=600,
    params=WarmParams,
    every=timedelta(minutes=5),
)
def cache_warm(ctx, params: WarmParams) -> dict:
    """Caches the summaries of the customers with the most orders."""
    warmed = customer_summaries_warm(params.limit)
    ctx.log(f"warmed {warmed} customer summaries")
    return {"warmed": warmed}
