"""The report catalog: every report and export users can run, with its parameters.

A ``ReportDefinition`` has a name, a title, a description, a parameter schema (a
pydantic model whose defaults are the sensible ones), its output columns and a
``build(params)`` that returns the database query producing the rows: each module
declares its reports with ``@report`` on their builders (``base.report``), next to their
parameters. All computing is done by the database; the query is streamed (see
selectors.report_rows).

The six TPC-H reports follow the TPC-H specification (queries Q1, Q3, Q5, Q6, Q10 and
Q18): their default parameters are the specification's validation values, their columns
come in the order of the query's select list, and their rows in the order of its
ORDER BY (with the row's key added as a last tie-breaker, so that equal values still
come out in one fixed order). Dates are computed here, not in SQL, so that the same SQL
runs on PostgreSQL and SQLite.
"""

from apps.reports.catalog import commerce, tpch
from apps.reports.catalog.base import (
    Column,
    ColumnKind,
    ReportDefinition,
    ReportQuery,
    SqlQuery,
    UnknownReport,
    add_months,
    definitions_in,
)

__all__ = [
    "REPORTS",
    "Column",
    "ColumnKind",
    "ReportDefinition",
    "ReportQuery",
    "SqlQuery",
    "UnknownReport",
    "add_months",
    "report_definition",
]

# The TPC-H reports first, then ours and the exports: each module's in the order it defines them.
REPORTS: dict[str, ReportDefinition] = {
    definition.name: definition for module in (tpch, commerce) for definition in definitions_in(module)
}


def report_definition(name: str) -> ReportDefinition:
    try:
        return REPORTS[name]
    except KeyError:
        raise UnknownReport(f"Unknown report {name!r}; choose one of {', '.join(REPORTS)}.") from None
