"""EXPLAIN plans of slow-query samples, taken later by a job — never in the request.

Only single SELECT statements are explained. On PostgreSQL the EXPLAIN runs inside a
transaction that is read-only (when it is the outermost one), has a statement timeout,
and is always rolled back; plain EXPLAIN does not run the statement at all, and
MONITORING_EXPLAIN_ANALYZE (off by default) adds ANALYZE only under those guards.
"""

import json
import logging
import re

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps.monitoring.models import SlowQuery

logger = logging.getLogger("apps.monitoring")

_LEADING_COMMENTS = re.compile(r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*", re.S)
_WRITES = re.compile(r"\b(insert|update|delete|merge|truncate|alter|drop|create|grant|copy|call|do)\b", re.I)
_TRAILING_COMMENT = re.compile(r"\s*/\*[^*]*\*/\s*$")


def is_explainable(sql: str) -> bool:
    """One SELECT (or WITH … SELECT without data-modifying parts), nothing after it."""
    body = _LEADING_COMMENTS.sub("", sql)
    body = _TRAILING_COMMENT.sub("", body).rstrip().rstrip(";")
    if ";" in body:
        return False
    head = body[:6].lower()
    if head == "select":
        return not re.search(r"\bfor\s+(update|share|no key update|key share)\b", body, re.I)
    if body[:4].lower() == "with":
        return not _WRITES.search(body)
    return False


class _RolledBack(Exception):
    pass


def query_plan(*, sql: str, database: str = "default") -> tuple[object | None, str]:
    """(plan, "") or (None, why not). PostgreSQL: EXPLAIN (FORMAT JSON); SQLite: EXPLAIN QUERY PLAN."""
    if not is_explainable(sql):
        return (
            None,
            "Not explained: only single SELECT statements are (a plan of a write would mean running it).",
        )
    alias = database if database in connections else "default"
    connection = connections[alias]
    plan = None
    try:
        if connection.vendor == "postgresql":
            outermost = not connection.in_atomic_block
            analyze = settings.MONITORING_EXPLAIN_ANALYZE and outermost
            options = "FORMAT JSON, ANALYZE, BUFFERS" if analyze else "FORMAT JSON"
            try:
                with transaction.atomic(using=alias), connection.cursor() as cursor:
                    if outermost:
                        cursor.execute("SET TRANSACTION READ ONLY")
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        [str(int(settings.MONITORING_EXPLAIN_TIMEOUT_MS))],
                    )
                    cursor.execute(f"EXPLAIN ({options}) {sql}")
                    plan = cursor.fetchone()[0]
                    raise _RolledBack
            except _RolledBack:
                pass
        elif connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                plan = [{"id": row[0], "parent": row[1], "detail": row[3]} for row in cursor.fetchall()]
        else:
            return None, f"Plans are not taken on {connection.vendor}."
    except DatabaseError as exc:
        return None, f"EXPLAIN failed: {exc}".strip()[:2000]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan, ""


def slow_queries_explain(*, limit: int = 20) -> dict[str, int]:
    """Plan the slowest samples not yet explained (a new, slower sample clears explained_at)."""
    explained = failed = 0
    candidates = (
        SlowQuery.objects.filter(explained_at__isnull=True)
        .exclude(sample_sql="")
        .order_by("-sample_ms")
        .only("id", "sample_sql", "database")[:limit]
    )
    for query in candidates:
        plan, error = query_plan(sql=query.sample_sql, database=query.database)
        SlowQuery.objects.filter(pk=query.pk).update(plan=plan, plan_error=error, explained_at=timezone.now())
        if error:
            failed += 1
        else:
            explained += 1
    return {"explained": explained, "not_explained": failed}
