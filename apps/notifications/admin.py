"""Operators' read-only view of notification records (staff only, as the whole admin)."""

from django.contrib import admin

from apps.core.admin import RecordAdminMixin
from apps.notifications.models import (
    EmailMessage,
    Notification,
    Preference,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


class ReadOnlyAdmin(RecordAdminMixin, admin.ModelAdmin):
    """Records are written by the app's services; the admin only shows them, to any staff user."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in self.model._meta.fields if field.name not in (self.exclude or ())]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["title", "recipient", "event", "level", "created_at", "read_at"]
    list_filter = ["level", "event"]
    list_select_related = ["recipient"]
    search_fields = ["title", "recipient__username"]
    date_hierarchy = "created_at"


@admin.register(Preference)
class PreferenceAdmin(ReadOnlyAdmin):
    list_display = ["user", "event", "channel", "enabled"]
    list_select_related = ["user"]


@admin.register(EmailMessage)
class EmailMessageAdmin(ReadOnlyAdmin):
    list_display = ["subject", "to", "event", "status", "attempts", "last_error", "created_at", "sent_at"]
    list_filter = ["status", "event"]
    search_fields = ["to", "subject"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "owner", "is_active", "consecutive_failures", "disabled_reason", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["owner"]
    search_fields = ["url", "owner__username"]
    # Secrets sign deliveries; operators never need to read them.
    exclude = ["secret"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "created_at", "status_code", "latency_ms", "error", "will_retry", "response_excerpt"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "url", "owner", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    list_select_related = ["owner"]
    search_fields = ["url", "message_id"]
    inlines = [WebhookAttemptInline]
