"""Watching the queries of one request or job: count, time, slow ones, repeats (N+1).

A QueryWatch is installed as a database ``execute_wrapper`` for the length of a request
(RequestMetricsMiddleware) or a job (receivers.py). Per query it only times the call and
counts the statement text (with its placeholders, so one ORM call in a loop is one text);
the expensive part — fingerprint, rendered SQL, the code line — runs only for a query
that was slow or that repeated one time too many. It also appends a sqlcommenter-style
comment naming the route or job, so that pg_stat_statements and the server logs map
statements back to endpoints.
"""

import os
import sys
import time
from urllib.parse import quote

from django.conf import settings

from apps.monitoring import fingerprint as fp
from apps.monitoring.models import MetricKind
from apps.monitoring.recorder import recorder
from apps.monitoring.series import QueryCapture

_MONITORING_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Statements a watch remembers for repeat counting; beyond this a long job stops counting.
MAX_DISTINCT_STATEMENTS = 2000
# The comment of each route is built once (routes are few: they are patterns, not paths).
MAX_CACHED_COMMENTS = 5000
_comments: dict[tuple, tuple[str, str]] = {}


def _project_dir() -> str:
    return os.path.abspath(str(settings.BASE_DIR)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    return tuple(os.path.abspath(path) + os.sep for path in {sys.prefix, sys.base_prefix, sys.exec_prefix})


def code_line() -> str:
    """``apps/commerce/views.py:42 in order_list``: the first frame of our own code on the stack.

    Our code is anything under the project directory that is neither installed packages
    (the virtualenv lives inside the project) nor this app's own machinery.
    """
    project = _project_dir()
    libraries = _library_dirs()
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if (
            filename.startswith(project)
            and not filename.startswith(_MONITORING_DIR)
            and not filename.startswith(libraries)
            and "site-packages" not in filename
        ):
            return f"{filename[len(project) :]}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return ""


def sql_comment(**tags: str) -> str:
    """sqlcommenter format: `` /*key='url-encoded value',…*/`` with keys sorted."""
    parts = []
    for name, value in sorted(tags.items()):
        encoded = quote(str(value), safe="").replace("'", "\\'")
        parts.append(f"{name}='{encoded}'")
    # "*/" cannot survive url-encoding ("*" stays, "/" becomes %2F), so the comment is closed only here.
    return " /*" + ",".join(parts) + "*/"


class QueryWatch:
    __slots__ = (
        "captures",
        "comment",
        "comment_escaped",
        "count",
        "ms",
        "repeat_limit",
        "seen",
        "slow_ms",
        "slow_runs",
        "source",
        "source_kind",
    )

    def __init__(self, source_kind: str, source: str = "") -> None:
        self.source_kind = source_kind
        self.source = source
        self.slow_ms = float(settings.MONITORING_SLOW_QUERY_MS)
        self.repeat_limit = int(settings.MONITORING_NPLUS1_THRESHOLD)
        self.count = 0
        self.ms = 0.0
        self.seen: dict[str, int] = {}
        self.captures: dict[str, QueryCapture] = {}
        self.slow_runs: list[float] = []
        self.comment = ""
        self.comment_escaped = ""

    def name(self, source: str, **tags: str) -> None:
        """Set what the queries belong to (known once the URL is resolved) and their comment."""
        self.source = source
        if settings.MONITORING_SQL_COMMENTS:
            cache_key = (source, *sorted(tags.items()))
            comments = _comments.get(cache_key)
            if comments is None:
                comment = sql_comment(application="tempo", **tags)
                # With parameters, the driver formats the text: a literal % must be doubled.
                comments = (comment, comment.replace("%", "%%"))
                if len(_comments) < MAX_CACHED_COMMENTS:
                    _comments[cache_key] = comments
            self.comment, self.comment_escaped = comments

    def __call__(self, execute, sql, params, many, context):
        if self.comment:
            sql = sql + (self.comment if params is None else self.comment_escaped)
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - start) * 1000.0
            self.count += 1
            self.ms += elapsed
            seen = self.seen
            repeats = seen.get(sql, 0) + 1
            if repeats > 1 or len(seen) < MAX_DISTINCT_STATEMENTS:
                seen[sql] = repeats
            if elapsed >= self.slow_ms or repeats == self.repeat_limit + 1:
                self._capture(sql, params, many, context, elapsed, repeats)
            elif repeats > self.repeat_limit:
                capture = self.captures.get(sql)
                if capture is not None:
                    capture.add_run(elapsed, slow=False)

    def _capture(self, sql, params, many, context, elapsed: float, repeats: int) -> None:
        capture = self.captures.get(sql)
        slow = elapsed >= self.slow_ms
        if slow:
            self.slow_runs.append(elapsed)
        if capture is None:
            connection = context["connection"]
            normalized = fp.normalize(sql)
            capture = self.captures[sql] = QueryCapture(
                fingerprint=fp.fingerprint(normalized),
                normalized_sql=normalized,
                database=connection.alias,
                vendor=connection.vendor,
                code_line=code_line(),
            )
        if (slow and elapsed > capture.sample_ms) or not capture.sample_sql:
            capture.sample_ms = elapsed
            capture.sample_sql = self._rendered(sql, params, many, context)
        capture.add_run(elapsed, slow=slow)

    @staticmethod
    def _rendered(sql, params, many, context) -> str:
        if many or params is None:
            return sql
        try:
            rendered = context["connection"].ops.last_executed_query(context["cursor"].cursor, sql, params)
        except Exception:
            rendered = None
        return rendered or sql

    def finish(self) -> None:
        """Hand what this watch caught to the recorder (memory only)."""
        if not self.captures:
            return
        for sql, capture in self.captures.items():
            repeats = self.seen.get(sql, 0)
            if repeats > self.repeat_limit:
                capture.nplus1_hits = 1
                capture.max_repeats = repeats
            recorder.observe_query(self.source_kind, self.source, capture)
        for elapsed in self.slow_runs:
            recorder.observe(MetricKind.SLOW_QUERY, self.source, elapsed)
        self.captures = {}
        self.slow_runs = []
