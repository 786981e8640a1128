"""The range-partitioning path of docs/scaling.md §5, end to end, on a database of its own.

The conversion renames the commerce tables, so it runs in a throwaway database
(``tempo_part_test_<random>``, dropped at the end) rather than the test database:
``manage.py migrate``, ``load_tpch`` at scale 0.01, a third of the lines' dates taken
away (lines written before the column existed), ``backfill_lineitem_order_date``, then
``psql -f deploy/partitioning/partition_orders_by_date.sql``. Every command runs as
a subprocess, as an operator would run it; the app's reads are made through Django's
test client in a ``manage.py shell`` against that database, before and after.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

from apps.commerce.services import TABLES
from tests.conftest import missing

pytestmark = pytest.mark.integration

ROOT = Path(settings.BASE_DIR)
SCRIPT = ROOT / "deploy" / "partitioning" / "partition_orders_by_date.sql"
COMMAND_TIMEOUT = 300

# Run by `manage.py shell -c` against the converted database: what the API and the
# pages answer, and the plan of the query behind the orders list filtered to 1995.
READS = """
import json
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

user, _ = get_user_model().objects.get_or_create(username="partition-reader")
client = Client()
client.force_login(user)

def get(path, **params):
    response = client.get(path, params)
    return [response.status_code, response.json()]

def relations(plan):
    found = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(plan["Relation Name"])
        plan = list(plan.values())
    if isinstance(plan, list):
        for item in plan:
            found |= relations(item)
    return found

newest = get("/api/commerce/orders", limit=5)
with CaptureQueriesContext(connection) as queries:
    in_1995 = get("/api/commerce/orders", date_from="1995-01-01", date_to="1995-12-31", limit=20)
listing = next(q["sql"] for q in queries.captured_queries if 'FROM "commerce_order"' in q["sql"])
with connection.cursor() as cursor:
    cursor.execute("EXPLAIN (FORMAT JSON) " + listing)
    plan = cursor.fetchone()[0]
first = newest[1]["items"][0]["id"]
print(json.dumps({
    "newest": newest,
    "older": get("/api/commerce/orders", limit=5, cursor=newest[1]["next"]),
    "in_1995": in_1995,
    "detail": get(f"/api/commerce/orders/{first}"),
    "detail_1": get("/api/commerce/orders/1"),
    "customer_1": get("/api/commerce/customers/1"),
    "pages": [client.get(path).status_code for path in ("/orders/", f"/orders/{first}/")],
    "plan_relations": sorted(relations(plan)),
}))
"""


@dataclass
class Database:
    """The throwaway database: SQL through psycopg, commands through manage.py and psql."""

    name: str
    server: dict[str, Any]
    env: dict[str, str]
    psql: str

    def execute(self, sql: str, params: Any = None) -> None:
        with psycopg.connect(dbname=self.name, autocommit=True, **self.server) as conn:
            conn.execute(sql, params)

    def rows(self, sql: str, params: Any = None) -> list[tuple]:
        with psycopg.connect(dbname=self.name, autocommit=True, **self.server) as conn:
            return conn.execute(sql, params).fetchall()

    def value(self, sql: str, params: Any = None) -> Any:
        return self.rows(sql, params)[0][0]

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )

    def manage_ok(self, *args: str) -> str:
        done = self.manage(*args)
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def reads(self) -> dict:
        return json.loads(self.manage_ok("shell", "-c", READS).strip().splitlines()[-1])

    def convert(self) -> None:
        done = subprocess.run(
            [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(SCRIPT)],
            env={**self.env, **_psql_environment(self.server, self.name)},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        assert done.returncode == 0, f"psql -f {SCRIPT.name}:\n{done.stdout}\n{done.stderr}"

    def table_fingerprints(self) -> dict[str, tuple[int, str]]:
        """Per table: rows and an md5 of every row's text in id order."""
        fingerprint = "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {} t"
        return {
            table: tuple(self.rows(fingerprint.format(table))[0])
            for table in ("commerce_order", "commerce_lineitem")
        }


def _psql_environment(server: dict[str, Any], name: str) -> dict[str, str]:
    return {
        "PGHOST": server["host"],
        "PGPORT": str(server["port"]),
        "PGUSER": server["user"],
        "PGPASSWORD": server["password"],
        "PGDATABASE": name,
    }


@dataclass
class Conversion:
    db: Database
    folder: Path
    undated: int  # lines whose date was taken away
    backfill_output: str
    undated_after_backfill: int
    before: dict[str, tuple[int, str]]
    after: dict[str, tuple[int, str]]
    reads_before: dict
    reads_after: dict


@pytest.fixture(scope="module")
def throwaway_database() -> Iterator[Database]:
    default = settings.DATABASES["default"]
    if default["ENGINE"] != "django.db.backends.postgresql":
        missing(
            "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/tempo (or run .ci/run)"
        )
    psql = shutil.which("psql")
    if not psql:
        missing("needs psql (Debian: apt-get install postgresql-client)")
    server = {
        "host": default["HOST"] or "127.0.0.1",
        "port": int(default["PORT"] or 5432),
        "user": default["USER"] or "",
        "password": default["PASSWORD"] or "",
    }
    name = f"tempo_part_test_{uuid.uuid4().hex[:12]}"
    credentials = quote(server["user"]) + (f":{quote(server['password'])}" if server["password"] else "")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{credentials}@{server['host']}:{server['port']}/{name}",
        "DATABASE_REPLICA_URLS": "",
        # The local-memory cache and the ORM broker: nothing outside this database.
        "REDIS_URL": "",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "testserver",
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(name, server, env, psql)
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def conversion(throwaway_database: Database, tpch_dir: Path) -> Conversion:
    """The whole path, run once for the module; the tests check what it left."""
    db = throwaway_database
    db.manage_ok("migrate", "--no-input")
    db.manage_ok("load_tpch", "--scale", "0.01", "--from-dir", str(tpch_dir))
    # Lines of a third of the orders, as written before LineItem.order_date existed.
    db.execute("UPDATE commerce_lineitem SET order_date = NULL WHERE order_id % 3 = 0")
    undated = db.value("SELECT count(*) FROM commerce_lineitem WHERE order_date IS NULL")
    backfill_output = db.manage_ok("backfill_lineitem_order_date", "--batch-size", "10000")
    undated_after_backfill = db.value("SELECT count(*) FROM commerce_lineitem WHERE order_date IS NULL")
    before, reads_before = db.table_fingerprints(), db.reads()

    db.convert()

    return Conversion(
        db=db,
        folder=tpch_dir,
        undated=undated,
        backfill_output=backfill_output,
        undated_after_backfill=undated_after_backfill,
        before=before,
        after=db.table_fingerprints(),
        reads_before=reads_before,
        reads_after=db.reads(),
    )


def partitioned_tables(db: Database) -> dict[str, str]:
    return dict(
        db.rows("SELECT partrelid::regclass::text, pg_get_partkeydef(partrelid) FROM pg_partitioned_table")
    )


def rows_outside_their_years_partition(db: Database) -> list[tuple]:
    """Orders and lines not in commerce_<table>_y<year of the order>."""
    return db.rows(
        """
        SELECT 'order', o.id, o.tableoid::regclass::text FROM commerce_order o
        WHERE o.tableoid::regclass::text <> 'commerce_order_y' || extract(year FROM o.order_date)
        UNION ALL
        SELECT 'line', l.id, l.tableoid::regclass::text
        FROM commerce_lineitem l JOIN commerce_order o ON o.id = l.order_id
        WHERE l.order_date IS DISTINCT FROM o.order_date
           OR l.tableoid::regclass::text <> 'commerce_lineitem_y' || extract(year FROM o.order_date)
        LIMIT 10
        """
    )


def partition_schema(db: Database) -> list[tuple]:
    """Constraints and indexes of both partitioned tables and of each of their partitions.

    PostgreSQL names a partition's copy of a parent's index or foreign key itself (and
    a reload may name it differently): those are compared without their names.
    """
    return db.rows(
        r"""
        SELECT conrelid::regclass::text, CASE WHEN conparentid = 0 THEN conname END,
               pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid::regclass::text ~ '^commerce_(order|lineitem)(_y\d+|_default)?$'
        UNION ALL
        SELECT i.indrelid::regclass::text, CASE WHEN NOT x.relispartition THEN x.relname END,
               regexp_replace(pg_get_indexdef(i.indexrelid), ' INDEX \S+ ON ', ' INDEX ON ')
               || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
        FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
        WHERE i.indrelid::regclass::text ~ '^commerce_(order|lineitem)(_y\d+|_default)?$'
        ORDER BY 1, 2, 3
        """
    )


def test_backfill_gave_the_lines_without_a_date_their_orders_date(conversion):
    assert conversion.undated > 10_000
    assert conversion.backfill_output.startswith(f"Gave {conversion.undated:,} line items their order's date")
    assert conversion.undated_after_backfill == 0


def test_both_tables_are_partitioned_by_order_date_with_every_row_kept(conversion):
    assert partitioned_tables(conversion.db) == {
        "commerce_order": "RANGE (order_date)",
        "commerce_lineitem": "RANGE (order_date)",
    }
    assert conversion.before["commerce_order"][0] == 15_000
    assert conversion.before["commerce_lineitem"][0] == 60_175
    # Same rows, same values: the md5 of every row's text in id order.
    assert conversion.after == conversion.before


def test_every_order_and_line_is_in_the_partition_of_its_orders_year(conversion):
    db = conversion.db
    years = db.rows("SELECT DISTINCT extract(year FROM order_date)::int FROM commerce_order ORDER BY 1")
    assert [year for (year,) in years] == list(range(1992, 1999))
    assert rows_outside_their_years_partition(db) == []
    assert db.value("SELECT count(*) FROM commerce_lineitem_default") == 0


def test_orders_of_one_year_are_read_from_that_years_partition_only(conversion):
    # The plan of the query the orders API ran for 1995 (date_from/date_to).
    def orders_tables(relations: list[str]) -> list[str]:
        return [name for name in relations if name.startswith("commerce_order")]

    assert orders_tables(conversion.reads_before["plan_relations"]) == ["commerce_order"]
    assert orders_tables(conversion.reads_after["plan_relations"]) == ["commerce_order_y1995"]


def test_the_apps_reads_answer_as_before_the_conversion(conversion):
    before = {key: value for key, value in conversion.reads_before.items() if key != "plan_relations"}
    after = {key: value for key, value in conversion.reads_after.items() if key != "plan_relations"}
    assert after == before
    assert after["pages"] == [200, 200]
    assert after["newest"][0] == after["detail"][0] == after["customer_1"][0] == 200
    assert len(after["in_1995"][1]["items"]) == 20
    assert after["detail_1"][1]["line_items"]


def test_import_writes_orders_and_lines_into_their_partitions(conversion, tmp_path):
    db = conversion.db
    orders = tmp_path / "orders.csv"
    orders.write_text(
        ",".join(TABLES["orders"].csv_columns)
        + "\n70001,1,O,100.00,1995-06-01,1-URGENT,Clerk#000000001,0,new\n"
        + "70002,2,O,200.00,1997-02-03,5-LOW,Clerk#000000002,0,new\n"
    )
    # Windows line ends and a comment holding a line break: each record gets its date.
    lineitem = tmp_path / "lineitem.csv"
    lineitem.write_bytes(
        "\r\n".join(
            [
                ",".join(TABLES["lineitem"].csv_columns),
                '70001,1,1,1,1,10.00,0.00,0.00,N,O,1995-06-05,1995-06-06,1995-06-07,NONE,AIR,"two\r\nlines"',
                "1,1,1,99,1,10.00,0.00,0.00,N,O,1996-01-05,1996-01-06,1996-01-07,NONE,AIR,of an old order",
                "70002,2,2,1,1,10.00,0.00,0.00,N,O,1997-02-05,1997-02-06,1997-02-07,NONE,AIR,plain",
            ]
        ).encode()
        + b"\r\n"
    )

    assert db.manage_ok("import_data", "orders", str(orders)).startswith("Imported 2 orders")
    assert db.manage_ok("import_data", "lineitem", str(lineitem)).startswith("Imported 3 line items")

    order_1_year = db.value("SELECT extract(year FROM order_date)::int FROM commerce_order WHERE id = 1")
    imported = db.rows(
        """
        SELECT order_id, line_number, order_date::text, tableoid::regclass::text FROM commerce_lineitem
        WHERE order_id IN (70001, 70002) OR (order_id = 1 AND line_number = 99) ORDER BY order_id
        """
    )
    assert [(order_id, partition) for order_id, _, _, partition in imported] == [
        (1, f"commerce_lineitem_y{order_1_year}"),
        (70001, "commerce_lineitem_y1995"),
        (70002, "commerce_lineitem_y1997"),
    ]
    assert [date for _, _, date, _ in imported][1:] == ["1995-06-01", "1997-02-03"]
    assert rows_outside_their_years_partition(db) == []


def test_reload_is_refused_while_the_old_tables_remain_and_fills_the_partitions_after(conversion):
    db = conversion.db
    counts = db.rows("SELECT (SELECT count(*) FROM commerce_order), (SELECT count(*) FROM commerce_lineitem)")

    refused = db.manage("load_tpch", "--scale", "0.01", "--replace", "--from-dir", str(conversion.folder))

    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "CommandError: commerce_lineitem_unpartitioned, the copy that "
        "deploy/partitioning/partition_orders_by_date.sql kept, still refers to commerce_part: check "
        "the partitioned tables, drop commerce_order_unpartitioned and commerce_lineitem_unpartitioned, "
        "then load again."
    )
    assert (
        db.rows("SELECT (SELECT count(*) FROM commerce_order), (SELECT count(*) FROM commerce_lineitem)")
        == counts
    )

    schema = partition_schema(db)
    db.execute("DROP TABLE commerce_lineitem_unpartitioned, commerce_order_unpartitioned")
    db.manage_ok("load_tpch", "--scale", "0.01", "--replace", "--from-dir", str(conversion.folder))

    assert partitioned_tables(db) == {
        "commerce_order": "RANGE (order_date)",
        "commerce_lineitem": "RANGE (order_date)",
    }
    assert db.rows(
        "SELECT (SELECT count(*) FROM commerce_order), (SELECT count(*) FROM commerce_lineitem)"
    ) == [(15_000, 60_175)]
    assert rows_outside_their_years_partition(db) == []
    # The load drops the indexes and constraints and builds them again: on every partition.
    assert partition_schema(db) == schema
    assert not [row for row in schema if row[2].endswith(" INVALID")]
