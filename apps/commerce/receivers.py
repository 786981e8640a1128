"""What the commerce app listens to (connected in CommerceConfig.ready).

The commerce cache (``documents.CACHE_NAMESPACE``) is old once commerce data changes:
- a commerce row written through the ORM (``post_save``, ``post_delete``);
- an import that succeeded (the jobs app's ``job_finished``): imports write with COPY,
  which sends no ORM signals.
"""

from django.db.models.signals import post_delete, post_save

from apps.commerce import documents
from apps.core import caching
from apps.jobs.models import Status
from apps.jobs.signals import job_finished


def commerce_row_changed(sender, **kwargs) -> None:
    """A commerce row written through the ORM: every cached commerce read is old now."""
    if getattr(getattr(sender, "_meta", None), "app_label", "") == "commerce":
        caching.namespace_bump(documents.CACHE_NAMESPACE)


def commerce_import_finished(sender, job, status, **kwargs) -> None:
    if job.kind.startswith("commerce.import") and status == Status.SUCCEEDED:
        caching.namespace_bump(documents.CACHE_NAMESPACE)


def connect() -> None:
    post_save.connect(commerce_row_changed, dispatch_uid="commerce-cache-save")
    post_delete.connect(commerce_row_changed, dispatch_uid="commerce-cache-delete")
    job_finished.connect(commerce_import_finished, dispatch_uid="commerce-cache-import")
