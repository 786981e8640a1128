"""The building blocks of report definitions (see the package's docstring)."""

import calendar
import dataclasses
import datetime
import types
from collections.abc import Callable
from typing import ClassVar, Literal

from django.db import models
from pydantic import BaseModel, ConfigDict, Field, model_validator

from apps.commerce.models import Customer, LineItem, Nation, Order, Region, Supplier
from apps.reports.models import Format


class ColumnKind:
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    kind: str = ColumnKind.TEXT


@dataclasses.dataclass(frozen=True)
class SqlQuery:
    """Plain SQL with %s placeholders and its parameters."""

    sql: str
    params: tuple


# What a builder returns: SQL, or a queryset of value tuples (``values_list``).
ReportQuery = SqlQuery | models.QuerySet


@dataclasses.dataclass(frozen=True)
class ReportDefinition:
    name: str
    title: str
    description: str
    params: type[BaseModel]
    columns: tuple[Column, ...]
    build: Callable[[BaseModel], ReportQuery]
    formats: tuple[str, ...] = (Format.CSV, Format.XLSX)
    # Exports: as many rows as the tables hold. They are read from a server-side cursor
    # and counted first (for progress). Reports return few rows (aggregates, "top N"):
    # a plain cursor, which lets PostgreSQL plan them as psql would (see selectors).
    streamed: bool = False
    # Rows the result can have at most (TPC-H "top N"), for progress; None = unknown.
    limit: int | None = None

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]

    def defaults(self) -> dict:
        return self.params().model_dump(mode="json")


class UnknownReport(LookupError):
    pass


COLUMN_KINDS = (ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.DECIMAL, ColumnKind.DATE)


def columns_parsed(spec: str) -> tuple[Column, ...]:
    """``"n_name revenue:decimal"``: the columns of a result, each ``name`` (text) or ``name:kind``."""
    columns = tuple(Column(*item.split(":", 1)) for item in spec.split())
    for column in columns:
        if column.kind not in COLUMN_KINDS:
            raise ValueError(f"Column {column.name!r}: kind must be one of {', '.join(COLUMN_KINDS)}")
    return columns


def report(
    name: str,
    title: str,
    *,
    params: type[BaseModel],
    columns: str | tuple[Column, ...],
    formats: tuple[str, ...] = (Format.CSV, Format.XLSX),
    streamed: bool = False,
    limit: int | None = None,
) -> Callable[[Callable], Callable]:
    """Declare the decorated query builder as report ``name`` (``definitions_in`` finds it).

    The first paragraph of its docstring is the description users read; ``columns`` is
    the query's select list, in order (see ``columns_parsed``).
    """

    def register(build: Callable) -> Callable:
        build.report_definition = ReportDefinition(
            name=name,
            title=title,
            description=" ".join((build.__doc__ or "").strip().split("\n\n")[0].split()),
            params=params,
            columns=columns_parsed(columns) if isinstance(columns, str) else columns,
            build=build,
            formats=formats,
            streamed=streamed,
            limit=limit,
        )
        return build

    return register


def definitions_in(module: types.ModuleType) -> list[ReportDefinition]:
    """The reports a module declares with @report, in the order it defines them."""
    return [item.report_definition for item in vars(module).values() if hasattr(item, "report_definition")]


def _table(model: type[models.Model]) -> str:
    return model._meta.db_table


TABLES = {
    "lineitem": _table(LineItem),
    "orders": _table(Order),
    "customer": _table(Customer),
    "nation": _table(Nation),
    "region": _table(Region),
    "supplier": _table(Supplier),
}


def sql_text(text: str) -> str:
    # Table names come from the models (fixed identifiers, not input); values are %s.
    return text.format(**TABLES)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus whole months, clamped to the month's last day (SQL ``+ interval 'n month'``)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The (first, last) parameters of a date range, which must not run backwards; or None.
    date_range: ClassVar[tuple[str, str] | None] = None

    @model_validator(mode="after")
    def _date_range_in_order(self):
        if self.date_range is not None:
            first, last = self.date_range
            start, end = getattr(self, first), getattr(self, last)
            if start is not None and end is not None and start > end:
                raise ValueError(f"{first} must be on or before {last}")
        return self


Segment = Literal["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
RegionName = Literal["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]
# TPC-H data covers order dates 1992-01-01 .. 1998-08-02; ship dates run a few months on.
EARLIEST = datetime.date(1990, 1, 1)
LATEST = datetime.date(2005, 12, 31)


def date_field(default: datetime.date, description: str):
    return Field(default=default, ge=EARLIEST, le=LATEST, description=description)
