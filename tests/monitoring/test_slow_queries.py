from pathlib import Path

import pytest

from apps.monitoring.models import MetricKind, MetricRollup, SlowQuery
from apps.monitoring.services.explain import is_explainable, query_plan, slow_queries_explain
from tests.monitoring import urls as test_urls
from tests.monitoring.helpers import flush_and_roll_up

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.monitoring.urls")]


def _line_of(marker: str) -> int:
    lines = Path(test_urls.__file__).read_text().splitlines()
    return next(number for number, text in enumerate(lines, 1) if marker in text)


def test_nplus1_view_is_flagged_with_its_code_line(alice_client, ops_client, settings):
    settings.MONITORING_NPLUS1_THRESHOLD = 10
    alice_client.get("/test/nplus1/1/")
    alice_client.get("/test/nplus1/2/")  # same route, another raw path
    flush_and_roll_up()

    flagged = SlowQuery.objects.get(source="GET /test/nplus1/<int:page>/")
    assert flagged.nplus1_hits == 2
    assert flagged.max_repeats == test_urls.REPEATS
    assert flagged.code_line == f"tests/monitoring/urls.py:{_line_of('# N+1 LINE')} in nplus1"
    assert '"jobs_job"' in flagged.normalized_sql and "= ?" in flagged.normalized_sql

    page = ops_client.get("/monitoring/queries/").content.decode()
    assert f"tests/monitoring/urls.py:{_line_of('# N+1 LINE')} in nplus1" in page
    detail = ops_client.get(f"/monitoring/queries/{flagged.pk}/").content.decode()
    assert "(up to \N{MULTIPLICATION SIGN}12)" in detail


def test_a_statement_under_the_repeat_limit_is_not_flagged(alice_client, settings):
    settings.MONITORING_NPLUS1_THRESHOLD = test_urls.REPEATS
    alice_client.get("/test/nplus1/1/")
    flush_and_roll_up()
    assert not SlowQuery.objects.exists()


def test_pg_sleep_query_appears_with_its_plan(requires_postgres, alice_client, ops_client, settings):
    settings.MONITORING_SLOW_QUERY_MS = 100
    alice_client.get("/test/slow/")
    flush_and_roll_up()

    slow = SlowQuery.objects.get(source="GET /test/slow/")
    assert slow.slow_calls == 1 and slow.max_ms >= 150
    assert "pg_sleep(0.15)" in slow.sample_sql  # the rendered statement, with its value
    assert slow.code_line.startswith("tests/monitoring/urls.py:")
    assert MetricRollup.objects.get(kind=MetricKind.SLOW_QUERY, key="GET /test/slow/").count == 1
    assert slow.explained_at is None  # never planned in the request

    assert slow_queries_explain() == {"explained": 1, "not_explained": 0}
    slow.refresh_from_db()
    assert slow.plan[0]["Plan"]["Node Type"] == "Result"
    detail = ops_client.get(f"/monitoring/queries/{slow.pk}/").content.decode()
    assert "<strong>Result</strong>" in detail


def test_sqlite_statements_get_a_query_plan(alice_client):
    plan, error = query_plan(sql='SELECT * FROM "jobs_job" WHERE "kind" = \'x\'')
    if error and "Plans are not taken" in error:
        pytest.skip("another database engine")
    assert error == ""
    assert plan


def test_writes_and_multiple_statements_are_never_explained():
    assert is_explainable("SELECT 1 /*route='x'*/")
    assert is_explainable("WITH t AS (SELECT 1) SELECT * FROM t")
    assert not is_explainable("UPDATE jobs_job SET kind = 'x'")
    assert not is_explainable("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d")
    assert not is_explainable("SELECT 1; DROP TABLE t")
    assert not is_explainable("SELECT * FROM t FOR UPDATE")
    plan, error = query_plan(sql="DELETE FROM jobs_job")
    assert plan is None and "only single SELECT" in error
