"""Operator console: alert rules are edited here; events and slow queries are records."""

from django.contrib import admin

from apps.monitoring.models import AlertEvent, AlertRule, SlowQuery


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "metric", "threshold", "window_minutes", "min_count", "severity", "enabled"]
    list_filter = ["enabled", "severity", "metric"]
    list_editable = ["enabled"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["message", "subject", "opened_at", "resolved_at", "peak_value"]
    list_filter = ["rule", "resolved_at"]
    list_select_related = ["rule"]


@admin.register(SlowQuery)
class SlowQueryAdmin(ReadOnlyAdmin):
    list_display = ["source", "short_sql", "code_line", "slow_calls", "nplus1_hits", "max_ms", "last_seen"]
    list_filter = ["source_kind"]
    search_fields = ["source", "normalized_sql", "code_line"]
    exclude = ["plan"]

    @admin.display(description="statement")
    def short_sql(self, obj: SlowQuery) -> str:
        return obj.normalized_sql[:100]
