"""Which tpchgen CSV file fills which table, column by column; how a failed load reads."""

from dataclasses import dataclass

from django.db import models

from apps.commerce.models import (
    Customer,
    LineItem,
    Nation,
    Order,
    Part,
    PartSupplier,
    Region,
    Supplier,
)


class DatasetError(Exception):
    """A load that cannot or must not happen; the message is one line for a person."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (a database's errors go on with details)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class TpchTable:
    """One tpchgen CSV file and the table it fills.

    ``columns`` pairs each CSV column, in file order, with a model field name.
    ``order_key`` names the CSV column of each row's order when the table also keeps a
    copy of that order's date, which the file does not hold (``LineItem.order_date``,
    the partition key): the loading service writes it with each row.
    """

    file: str
    model: type[models.Model]
    columns: tuple[tuple[str, str], ...]
    order_key: str | None = None

    @property
    def filename(self) -> str:
        return f"{self.file}.csv"

    @property
    def csv_columns(self) -> list[str]:
        return [csv_column for csv_column, _ in self.columns]

    @property
    def fields(self) -> list[models.Field]:
        return [self.model._meta.get_field(name) for _, name in self.columns]

    @property
    def db_columns(self) -> list[str]:
        return [f.column for f in self.fields]

    @property
    def written_columns(self) -> list[str]:
        """The columns a load writes: the file's, then the order's date if the table keeps it."""
        if self.order_key is None:
            return self.db_columns
        return [*self.db_columns, self.model._meta.get_field("order_date").column]


# In load order: every table comes after the tables it references.
TABLES: dict[str, TpchTable] = {
    t.file: t
    for t in [
        TpchTable(
            "region",
            Region,
            (("r_regionkey", "id"), ("r_name", "name"), ("r_comment", "comment")),
        ),
        TpchTable(
            "nation",
            Nation,
            (("n_nationkey", "id"), ("n_name", "name"), ("n_regionkey", "region"), ("n_comment", "comment")),
        ),
        TpchTable(
            "supplier",
            Supplier,
            (
                ("s_suppkey", "id"),
                ("s_name", "name"),
                ("s_address", "address"),
                ("s_nationkey", "nation"),
                ("s_phone", "phone"),
                ("s_acctbal", "account_balance"),
                ("s_comment", "comment"),
            ),
        ),
        TpchTable(
            "part",
            Part,
            (
                ("p_partkey", "id"),
                ("p_name", "name"),
                ("p_mfgr", "manufacturer"),
                ("p_brand", "brand"),
                ("p_type", "type"),
                ("p_size", "size"),
                ("p_container", "container"),
                ("p_retailprice", "retail_price"),
                ("p_comment", "comment"),
            ),
        ),
        TpchTable(
            "partsupp",
            PartSupplier,
            (
                ("ps_partkey", "part"),
                ("ps_suppkey", "supplier"),
                ("ps_availqty", "available_quantity"),
                ("ps_supplycost", "supply_cost"),
                ("ps_comment", "comment"),
            ),
        ),
        TpchTable(
            "customer",
            Customer,
            (
                ("c_custkey", "id"),
                ("c_name", "name"),
                ("c_address", "address"),
                ("c_nationkey", "nation"),
                ("c_phone", "phone"),
                ("c_acctbal", "account_balance"),
                ("c_mktsegment", "market_segment"),
                ("c_comment", "comment"),
            ),
        ),
        TpchTable(
            "orders",
            Order,
            (
                ("o_orderkey", "id"),
                ("o_custkey", "customer"),
                ("o_orderstatus", "status"),
                ("o_totalprice", "total_price"),
                ("o_orderdate", "order_date"),
                ("o_orderpriority", "priority"),
                ("o_clerk", "clerk"),
                ("o_shippriority", "ship_priority"),
                ("o_comment", "comment"),
            ),
        ),
        TpchTable(
            "lineitem",
            LineItem,
            (
                ("l_orderkey", "order"),
                ("l_partkey", "part"),
                ("l_suppkey", "supplier"),
                ("l_linenumber", "line_number"),
                ("l_quantity", "quantity"),
                ("l_extendedprice", "extended_price"),
                ("l_discount", "discount"),
                ("l_tax", "tax"),
                ("l_returnflag", "return_flag"),
                ("l_linestatus", "line_status"),
                ("l_shipdate", "ship_date"),
                ("l_commitdate", "commit_date"),
                ("l_receiptdate", "receipt_date"),
                ("l_shipinstruct", "ship_instructions"),
                ("l_shipmode", "ship_mode"),
                ("l_comment", "comment"),
            ),
            order_key="l_orderkey",
        ),
    ]
}
