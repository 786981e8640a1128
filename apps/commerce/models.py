"""The TPC-H schema with readable names. Primary keys are the TPC-H keys."""

from django.db import models

MONEY = {"max_digits": 15, "decimal_places": 2}


class Named:
    """A row people know by its name (a region, a supplier, a customer)."""

    name: str

    def __str__(self) -> str:
        return self.name


class Region(Named, models.Model):
    id = models.IntegerField(primary_key=True)  # r_regionkey
    name = models.CharField(max_length=25)
    comment = models.CharField(max_length=152, blank=True)


class Nation(Named, models.Model):
    id = models.IntegerField(primary_key=True)  # n_nationkey
    name = models.CharField(max_length=25)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="nations")
    comment = models.CharField(max_length=152, blank=True)


class Supplier(Named, models.Model):
    id = models.BigIntegerField(primary_key=True)  # s_suppkey
    name = models.CharField(max_length=25)
    address = models.CharField(max_length=40)
    nation = models.ForeignKey(Nation, on_delete=models.PROTECT, related_name="suppliers")
    phone = models.CharField(max_length=15)
    account_balance = models.DecimalField(**MONEY)
    comment = models.CharField(max_length=101, blank=True)


class Part(Named, models.Model):
    id = models.BigIntegerField(primary_key=True)  # p_partkey
    name = models.CharField(max_length=55)
    manufacturer = models.CharField(max_length=25)
    brand = models.CharField(max_length=10)
    type = models.CharField(max_length=25)
    size = models.IntegerField()
    container = models.CharField(max_length=10)
    retail_price = models.DecimalField(**MONEY)
    comment = models.CharField(max_length=23, blank=True)


class PartSupplier(models.Model):
    # The (part, supplier) unique index already serves lookups by part.
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="suppliers", db_index=False)
    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="parts")
    available_quantity = models.IntegerField()
    supply_cost = models.DecimalField(**MONEY)
    comment = models.CharField(max_length=199, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["part", "supplier"], name="partsupplier_part_supplier_uniq")
        ]

    def __str__(self) -> str:
        return f"Part {self.part_id} from supplier {self.supplier_id}"


class Customer(Named, models.Model):
    class Segment(models.TextChoices):
        AUTOMOBILE = "AUTOMOBILE"
        BUILDING = "BUILDING"
        FURNITURE = "FURNITURE"
        HOUSEHOLD = "HOUSEHOLD"
        MACHINERY = "MACHINERY"

    id = models.BigIntegerField(primary_key=True)  # c_custkey
    name = models.CharField(max_length=25)
    address = models.CharField(max_length=40)
    nation = models.ForeignKey(Nation, on_delete=models.PROTECT, related_name="customers")
    phone = models.CharField(max_length=15)
    account_balance = models.DecimalField(**MONEY)
    market_segment = models.CharField(max_length=10, choices=Segment.choices)
    comment = models.CharField(max_length=117, blank=True)

    class Meta:
        indexes = [models.Index(fields=["market_segment"], name="customer_segment_idx")]


class Order(models.Model):
    class Status(models.TextChoices):
        OPEN = "O", "Open"
        FULFILLED = "F", "Fulfilled"
        PARTIAL = "P", "Partially fulfilled"

    id = models.BigIntegerField(primary_key=True)  # o_orderkey
    # order_customer_date_idx (customer, -order_date) serves lookups by customer.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    status = models.CharField(max_length=1, choices=Status.choices)
    total_price = models.DecimalField(**MONEY)
    order_date = models.DateField()
    priority = models.CharField(max_length=15)
    clerk = models.CharField(max_length=15)
    ship_priority = models.IntegerField()
    comment = models.CharField(max_length=79, blank=True)

    class Meta:
        indexes = [
            # Newest-first lists and their keyset cursor (order_date, id).
            models.Index(fields=["-order_date", "-id"], name="order_date_id_idx"),
            models.Index(fields=["customer", "-order_date"], name="order_customer_date_idx"),
            models.Index(fields=["status", "-order_date"], name="order_status_date_idx"),
        ]

    def __str__(self) -> str:
        return f"Order {self.id}"


class LineItem(models.Model):
    class ReturnFlag(models.TextChoices):
        RETURNED = "R", "Returned"
        ACCEPTED = "A", "Accepted"
        NONE = "N", "Not returned"

    class LineStatus(models.TextChoices):
        OPEN = "O", "Open"
        FULFILLED = "F", "Fulfilled"

    # The (order, line_number) unique index already serves lookups by order.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items", db_index=False)
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="+")
    line_number = models.IntegerField()
    quantity = models.DecimalField(**MONEY)
    extended_price = models.DecimalField(**MONEY)
    discount = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    return_flag = models.CharField(max_length=1, choices=ReturnFlag.choices)
    line_status = models.CharField(max_length=1, choices=LineStatus.choices)
    ship_date = models.DateField()
    commit_date = models.DateField()
    receipt_date = models.DateField()
    ship_instructions = models.CharField(max_length=25)
    ship_mode = models.CharField(max_length=10)
    comment = models.CharField(max_length=44, blank=True)
    # The order's date, copied: the partition key that keeps an order and its lines in
    # partitions of the same year (docs/scaling.md, "Range partitioning"). The loader and
    # the import write it with each line; `manage.py backfill_lineitem_order_date` fills
    # lines written before it existed. Nullable so that adding it is instant on big
    # tables. No service changes an order's date after it is written (orders come only
    # from load_tpch and the import; the admin is read-only), so nothing else keeps it
    # in step: a service that changes Order.order_date must change its lines' too.
    order_date = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="lineitem_order_line_uniq")
        ]
        indexes = [models.Index(fields=["ship_date"], name="lineitem_ship_date_idx")]

    def __str__(self) -> str:
        return f"Order {self.order_id} line {self.line_number}"


class Dataset(models.Model):
    """Which generated TPC-H data set the commerce tables hold, so scales never mix."""

    scale = models.DecimalField(max_digits=10, decimal_places=4)
    row_counts = models.JSONField(default=dict)
    loaded_at = models.DateTimeField(auto_now=True)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"TPC-H scale {self.scale.normalize()}"
