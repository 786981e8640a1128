"""The commerce cache: invalidated when commerce data changes, warmed after a deploy.

Imported by ``apps/commerce/tasks.py`` (the module every app's job kinds are discovered
from), so that its receivers, warmer and job kind exist in every web and worker process.
"""

from datetime import timedelta

from django.db.models import Count
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from pydantic import BaseModel, ConfigDict, Field

from apps.commerce import selectors
from apps.commerce.models import Customer
from apps.core import caching
from apps.jobs.models import Queue, Status
from apps.jobs.registry import job
from apps.jobs.signals import job_finished

WARM_CUSTOMERS = 1000


def _is_commerce(sender) -> bool:
    return getattr(getattr(sender, "_meta", None), "app_label", "") == "commerce"


@receiver(post_save, dispatch_uid="commerce-cache-save")
@receiver(post_delete, dispatch_uid="commerce-cache-delete")
def commerce_row_changed(sender, **kwargs) -> None:
    """A commerce row written through the ORM: every cached commerce read is old now."""
    if _is_commerce(sender):
        caching.namespace_bump(selectors.CACHE_NAMESPACE)


@receiver(job_finished, dispatch_uid="commerce-cache-import")
def commerce_import_finished(sender, job, status, **kwargs) -> None:
    # Imports write with COPY (no ORM signals): their end invalidates the namespace.
    if job.kind.startswith("commerce.import") and status == Status.SUCCEEDED:
        caching.namespace_bump(selectors.CACHE_NAMESPACE)


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
        summary = selectors.customer_summary_serialize(customer_id=customer_id)
        if summary is None:  # deleted since the ranking
            continue
        caching.cached_put(
            selectors.customer_summary_key(customer_id),
            caching.JsonBody.of(summary),
            ttl=selectors.DETAIL_TTL,
            stale_ttl=selectors.DETAIL_STALE_TTL,
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
