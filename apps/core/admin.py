from django.contrib import admin, messages

from apps.core.models import ApiToken
from apps.core.services import api_token_issue


class RecordAdminMixin:
    """For admins and inlines of records that the app's services write: the admin shows
    them (and may act through actions) but never adds, edits or deletes a row."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "hint", "created_at", "last_used_at", "expires_at"]
    list_filter = ["created_at"]
    search_fields = ["user__username", "name", "hint"]
    readonly_fields = ["hint", "created_at", "last_used_at"]
    autocomplete_fields = ["user"]

    def get_fields(self, request, obj=None):
        return ["user", "name", "expires_at", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # A token's owner never changes: a new owner needs a new token.
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        raw = api_token_issue(token=obj)
        self.message_user(
            request,
            f"Token for {obj.user}: {raw} — copy it now, it will not be shown again.",
            messages.WARNING,
        )
