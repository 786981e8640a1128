"""Operator views of the TPC-H tables: read-only, and fast on millions of rows.

The data is a generated record (the loader writes it), so nobody edits it here. Every
list joins what it displays (list_select_related), filters only on indexed or small
columns, and never counts a whole big table: PostgreSQL's estimate stands in for it.
"""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from apps.commerce import models
from apps.commerce.selectors import table_row_estimate
from apps.core.admin import RecordAdminMixin

# Below this many rows an exact COUNT(*) is cheap enough to run.
EXACT_COUNT_BELOW = 100_000


class EstimatedCountPaginator(Paginator):
    """Pages an unfiltered big table with the planner's row estimate instead of COUNT(*)."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.has_filters():
            estimate = table_row_estimate(model=queryset.model, using=queryset.db)
            if estimate is not None and estimate >= EXACT_COUNT_BELOW:
                return estimate
        return super().count


class RecordAdmin(RecordAdminMixin, admin.ModelAdmin):
    """Look, don't touch: staff with view permission see rows; nobody adds, edits or deletes."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50


@admin.register(models.Region)
class RegionAdmin(RecordAdmin):
    list_display = ["id", "name"]
    search_fields = ["=id", "name"]


@admin.register(models.Nation)
class NationAdmin(RecordAdmin):
    list_display = ["id", "name", "region"]
    list_select_related = ["region"]
    list_filter = ["region"]
    search_fields = ["=id", "name"]


@admin.register(models.Supplier)
class SupplierAdmin(RecordAdmin):
    list_display = ["id", "name", "nation", "phone", "account_balance"]
    list_select_related = ["nation"]
    list_filter = ["nation"]
    search_fields = ["=id", "name"]
    raw_id_fields = ["nation"]
    ordering = ["id"]


@admin.register(models.Part)
class PartAdmin(RecordAdmin):
    list_display = ["id", "name", "brand", "type", "size", "container", "retail_price"]
    search_fields = ["=id", "name"]
    ordering = ["id"]


@admin.register(models.PartSupplier)
class PartSupplierAdmin(RecordAdmin):
    list_display = ["id", "part_id", "supplier_id", "available_quantity", "supply_cost"]
    search_fields = ["=part__id", "=supplier__id"]
    raw_id_fields = ["part", "supplier"]
    ordering = ["id"]


@admin.register(models.Customer)
class CustomerAdmin(RecordAdmin):
    list_display = ["id", "name", "nation", "market_segment", "phone", "account_balance"]
    list_select_related = ["nation"]
    # market_segment has an index; nation is 25 rows to list.
    list_filter = ["market_segment", "nation"]
    search_fields = ["=id", "name"]
    raw_id_fields = ["nation"]
    ordering = ["id"]


class LineItemInline(RecordAdminMixin, admin.TabularInline):
    model = models.LineItem
    fields = [
        "line_number",
        "part",
        "supplier",
        "quantity",
        "extended_price",
        "discount",
        "tax",
        "ship_date",
        "ship_mode",
        "line_status",
        "return_flag",
    ]
    readonly_fields = fields
    ordering = ["line_number"]
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("part", "supplier")


@admin.register(models.Order)
class OrderAdmin(RecordAdmin):
    list_display = ["id", "order_date", "customer", "status", "total_price", "priority"]
    list_select_related = ["customer"]
    # Both have an index that starts with the column: (status, -order_date) and the date one.
    list_filter = ["status"]
    search_fields = ["=id", "=customer__id"]
    search_help_text = "Order number or customer number."
    raw_id_fields = ["customer"]
    # Matches the (order_date desc, id desc) index, so a page reads 50 index entries.
    ordering = ["-order_date", "-id"]
    inlines = [LineItemInline]

    def get_queryset(self, request):
        # The change page names the customer too, not only the list.
        return super().get_queryset(request).select_related("customer")


@admin.register(models.LineItem)
class LineItemAdmin(RecordAdmin):
    # Ids, not names: the list reads one table and no joins.
    list_display = ["id", "order_id", "line_number", "part_id", "supplier_id", "quantity", "ship_date"]
    list_filter = ["line_status", "return_flag"]
    search_fields = ["=order__id"]
    search_help_text = "Order number."
    raw_id_fields = ["order", "part", "supplier"]
    ordering = ["-id"]


@admin.register(models.Dataset)
class DatasetAdmin(RecordAdmin):
    list_display = ["__str__", "loaded_at", "seconds", "row_counts"]
