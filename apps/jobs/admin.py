"""The operators' console for jobs: a read-only record, changed only through actions.

Saving a job form would write back every column as it was when the page loaded,
overwriting what a worker wrote since; so nothing is editable here, and retry and
cancel go through the same services as the API.
"""

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.core.admin import RecordAdminMixin
from apps.jobs import services
from apps.jobs.errors import JobStateError
from apps.jobs.models import Job, JobAttempt, Status
from apps.jobs.registry import kinds_all

# How many failing jobs an action names in its message before it says "and N more".
NAMED_IN_MESSAGE = 10


class JobAttemptInline(RecordAdminMixin, admin.TabularInline):
    model = JobAttempt
    fields = ("number", "outcome", "worker", "started_at", "finished_at", "retry_delay", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


class KindFilter(admin.SimpleListFilter):
    """Kinds from the registry: no DISTINCT scan of the whole jobs table per page load."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(kind.name, kind.name) for kind in kinds_all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


def _json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _short(job: Job) -> str:
    return str(job.uuid)[:8]


def _report(
    modeladmin: admin.ModelAdmin, request: HttpRequest, verb: str, done: int, refused: list[str]
) -> None:
    if done:
        modeladmin.message_user(request, f"{verb} {done} job{'s' if done != 1 else ''}.", messages.SUCCESS)
    if refused:
        named = "; ".join(refused[:NAMED_IN_MESSAGE])
        more = f"; and {len(refused) - NAMED_IN_MESSAGE} more" if len(refused) > NAMED_IN_MESSAGE else ""
        modeladmin.message_user(
            request,
            f"{len(refused)} job{'s' if len(refused) != 1 else ''} could not be "
            f"{verb.lower()}: {named}{more}",
            messages.WARNING,
        )


# A job is a record: view it, act on it with the actions, never edit, add or delete it
# here (`manage.py jobs purge` removes old ones).
@admin.register(Job)
class JobAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "kind",
        "queue",
        "status",
        "attempts_of_max",
        "owner",
        "created_at",
        "finished_at",
        "progress_percent",
    )
    list_filter = ("status", KindFilter, "queue", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("uuid", "kind", "owner__username")
    list_select_related = ("owner",)
    # Counting every job on each page load is what makes admins slow on big tables.
    show_full_result_count = False
    list_per_page = 50
    ordering = ("-created_at", "-id")
    actions = ("retry_selected", "cancel_selected")
    inlines = (JobAttemptInline,)
    fieldsets = (
        (None, {"fields": ("uuid", "kind", "queue", "status", "owner", "params_display")}),
        (
            "Progress and outcome",
            {
                "fields": (
                    "progress_figures",
                    "progress_message",
                    "result_display",
                    "error",
                    "traceback",
                    "log_display",
                )
            },
        ),
        (
            "Attempts and timing",
            {
                "fields": (
                    "attempts",
                    "max_attempts",
                    "timeout",
                    "worker",
                    "created_at",
                    "run_at",
                    "published_at",
                    "started_at",
                    "heartbeat_at",
                    "finished_at",
                    "cancel_requested_at",
                    "updated_at",
                )
            },
        ),
        ("Delivery", {"fields": ("idempotency_key", "webhook_url")}),
    )

    # Staff see and act on every job, as in the API (selectors.jobs_visible_to), without
    # needing model permissions granted one by one.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Retry and cancel (the actions)."""
        return request.user.is_active and request.user.is_staff

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        jobs = super().get_queryset(request)
        match = request.resolver_match
        if match is not None and match.url_name == "jobs_job_changelist":
            # The list shows none of the bulky columns; the job's own page does.
            jobs = jobs.defer("params", "result", "log", "traceback")
        return jobs

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [field for _, options in self.fieldsets for field in options["fields"]]

    @admin.display(description="id", ordering="uuid")
    def short_id(self, job: Job) -> str:
        return _short(job)

    @admin.display(description="attempts")
    def attempts_of_max(self, job: Job) -> str:
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="progress")
    def progress_percent(self, job: Job) -> str:
        return f"{job.percent:g}%" if job.percent is not None else "—"

    @admin.display(description="params")
    def params_display(self, job: Job) -> str:
        return format_html("<pre>{}</pre>", _json(job.params))

    @admin.display(description="result")
    def result_display(self, job: Job) -> str:
        return format_html("<pre>{}</pre>", _json(job.result)) if job.result is not None else "—"

    @admin.display(description="log")
    def log_display(self, job: Job) -> str:
        if not job.log:
            return "—"
        return format_html("<pre>{}</pre>", format_html_join("\n", "{}", ((line,) for line in job.log)))

    @admin.action(description="Retry / replay selected jobs", permissions=["operate"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        done, refused = 0, []
        for job in queryset.order_by("pk"):
            try:
                services.job_retry(job=job, by=request.user)
            except JobStateError as exc:
                refused.append(f"{_short(job)} ({exc})")
            else:
                done += 1
        _report(self, request, "Retried", done, refused)

    @admin.action(description="Cancel selected jobs", permissions=["operate"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        done, asked, refused = 0, 0, []
        for job in queryset.order_by("pk"):
            try:
                job = services.job_cancel(job=job, by=request.user)
            except JobStateError as exc:
                refused.append(f"{_short(job)} ({exc})")
                continue
            if job.status == Status.CANCELLED:
                done += 1
            else:
                asked += 1
        _report(self, request, "Cancelled", done, refused)
        if asked:
            self.message_user(
                request,
                f"Asked {asked} running job{'s' if asked != 1 else ''} to stop; "
                "they end as cancelled within a few seconds.",
                messages.INFO,
            )
