"""Bounded inputs of the jobs system: when a job may run, which queue, how many, how big.

- run_at is refused past JOBS_MAX_SCHEDULE_DAYS on every path; a row that holds an
  unreadable time anyway (written before the bound) still lists, on PostgreSQL;
- users may not choose a queue above the kind's own; scheduled kinds run on the system
  queue, which no user can reach;
- per-user quotas: test_quotas.py;
- diagnostics kinds have small bounds for non-staff;
- cursors that no page issued are a 422 in the API and the first page on pages.
"""

import datetime
import importlib

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.core.cursor import cursor_encode
from apps.jobs import services
from apps.jobs.errors import JobInputError
from apps.jobs.models import READABLE_MAX, Job, Queue, Status
from apps.jobs.registry import job, kinds_all
from tests.jobs.conftest import JOBS_URL, submit

pytestmark = pytest.mark.django_db


# --- run_at ---------------------------------------------------------------------------


def test_run_at_far_in_the_future_from_the_issue_is_422(alice_client):
    response = submit(alice_client, kind="diagnostics.noop", run_at="9999-12-31T23:59:59-14:00")

    assert response.status_code == 422
    message = response.json()["message"]
    assert "run_at can be at most 365 days ahead" in message
    assert "9999-12-31T23:59:59-14:00" in message
    assert not Job.objects.exists()


@pytest.mark.parametrize("run_at", ["10000-01-01T00:00:00Z", "2030-02-30T00:00:00Z", "soon"])
def test_run_at_that_is_no_time_is_422(alice_client, run_at):
    response = submit(alice_client, kind="diagnostics.noop", run_at=run_at)

    assert response.status_code == 422
    assert "run_at" in response.json()["message"]
    assert not Job.objects.exists()


def test_run_at_up_to_the_horizon_schedules_and_one_second_past_it_is_refused(alice, published, settings):
    settings.JOBS_MAX_SCHEDULE_DAYS = 30
    within = timezone.now() + datetime.timedelta(days=30) - datetime.timedelta(minutes=1)
    scheduled = services.enqueue("diagnostics.noop", owner=alice, run_at=within)
    assert scheduled.status == Status.SCHEDULED and scheduled.run_at == within

    # The same instant written with another offset is the same instant.
    beyond = (timezone.now() + datetime.timedelta(days=30, seconds=5)).astimezone(
        datetime.timezone(datetime.timedelta(hours=-14))
    )
    with pytest.raises(JobInputError, match="at most 30 days ahead"):
        services.enqueue("diagnostics.noop", owner=alice, run_at=beyond)
    assert Job.objects.count() == 1


def test_the_horizon_holds_for_system_enqueues_too(published):
    # Not only the API: every caller of the service (commands, other apps) is bounded.
    with pytest.raises(JobInputError, match="run_at can be at most"):
        services.enqueue("jobs.prune", run_at=timezone.now() + datetime.timedelta(days=400))
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "run_at",
    [
        datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC),
        # Year 1 at +14:00 is before year 1 in UTC: past, so run now (and nothing to store).
        datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=14))),
    ],
)
def test_run_at_in_the_past_runs_now(alice, published, django_capture_on_commit_callbacks, run_at):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.enqueue("diagnostics.noop", owner=alice, run_at=run_at)

    job.refresh_from_db()
    assert job.status == Status.QUEUED
    assert job.run_at is None
    assert published == [job.pk]


def test_run_at_without_a_timezone_is_refused_by_the_service(alice, published):
    with pytest.raises(JobInputError, match="run_at needs a timezone"):
        services.enqueue("diagnostics.noop", owner=alice, run_at=datetime.datetime(2030, 1, 1))
    assert not Job.objects.exists()


# --- A row that already holds an unreadable time (PostgreSQL) -------------------------


def _unreadable_row(owner) -> Job:
    """A scheduled job whose run_at is year 10000 in UTC, as the API stored it before the
    bound: written with the CHECK constraint lifted (inside the test's transaction)."""
    job = services.enqueue(
        "diagnostics.noop", owner=owner, run_at=timezone.now() + datetime.timedelta(days=1)
    )
    with connection.cursor() as cursor:
        # The owner's deferred foreign key check must run before the table can be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE jobs_job DROP CONSTRAINT job_run_at_readable")
        cursor.execute(
            "UPDATE jobs_job SET run_at = '9999-12-31 23:59:59-14:00', heartbeat_at = 'infinity' "
            "WHERE id = %s",
            [job.pk],
        )
    return job


def test_a_stored_unreadable_run_at_does_not_break_any_list(
    requires_postgres, client, alice, ops, published, capsys
):
    bad = _unreadable_row(alice)

    client.force_login(ops)
    listed = client.get(JOBS_URL)
    assert listed.status_code == 200
    item = next(i for i in listed.json()["items"] if i["id"] == str(bad.uuid))
    assert item["run_at"].startswith("9999-12-30T23:59:59")
    assert client.get("/jobs/").status_code == 200
    assert client.get("/admin/jobs/job/").status_code == 200
    assert client.get(f"/admin/jobs/job/{bad.pk}/change/").status_code == 200

    client.force_login(alice)
    assert client.get(JOBS_URL).status_code == 200
    assert client.get("/jobs/").status_code == 200
    assert client.get(f"/jobs/{bad.uuid}/").status_code == 200
    assert client.get(f"{JOBS_URL}/{bad.uuid}").json()["run_at"].startswith("9999-12-30")

    call_command("jobs", "list")
    call_command("jobs", "show", str(bad.uuid))
    out = capsys.readouterr().out
    assert str(bad.uuid) in out
    assert "run at     9999-12-30 23:59:59" in out

    cancelled = client.post(f"{JOBS_URL}/{bad.uuid}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_the_database_refuses_an_unreadable_run_at(requires_postgres, alice, published):
    job = services.enqueue("diagnostics.noop", owner=alice)

    with (
        pytest.raises(IntegrityError, match="job_run_at_readable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE jobs_job SET run_at = '10000-01-01 00:00:00+00' WHERE id = %s", [job.pk])


def test_the_migration_brings_an_unreadable_run_at_into_range(requires_postgres, alice, published):
    bad = _unreadable_row(alice)
    migration = importlib.import_module("apps.jobs.migrations.0003_bounded_run_at_and_system_queue")

    migration.run_at_clamped(apps, None)

    with connection.cursor() as cursor:
        cursor.execute("SELECT run_at = %s FROM jobs_job WHERE id = %s", [READABLE_MAX, bad.pk])
        assert cursor.fetchone() == (True,)


# --- Queues ---------------------------------------------------------------------------


@pytest.mark.parametrize("queue", ["high", "system"])
def test_user_cannot_choose_a_queue_above_the_kinds_own(alice_client, queue):
    response = submit(alice_client, kind="diagnostics.sleep", queue=queue, params={"seconds": 60})

    assert response.status_code == 403
    assert response.json()["message"] == (
        "diagnostics.sleep runs on the default queue; you may choose default or low, "
        f"only staff a higher one (got {queue!r})."
    )
    assert not Job.objects.exists()


@pytest.mark.parametrize("queue", ["default", "low"])
def test_user_may_choose_the_kinds_queue_or_a_lower_one(alice_client, queue):
    response = submit(alice_client, kind="diagnostics.noop", queue=queue)

    assert response.status_code == 202
    assert Job.objects.get().queue == queue


@pytest.mark.parametrize("queue", ["system", "high", "default", "low"])
def test_staff_may_choose_any_queue(ops_client, queue):
    response = submit(ops_client, kind="diagnostics.noop", queue=queue)

    assert response.status_code == 202
    assert Job.objects.get().queue == queue


def test_without_a_choice_a_job_runs_on_its_kinds_queue(alice_client):
    response = submit(alice_client, kind="reports.generate", params={"report": "pricing_summary"})

    assert response.json()["queue"] == "default"


def test_every_scheduled_kind_runs_on_the_system_queue_and_none_there_is_public():
    scheduled = {kind.name: kind.queue for kind in kinds_all() if kind.every is not None}
    assert {
        "monitoring.rollup",
        "monitoring.alerts",
        "monitoring.explain",
        "monitoring.fold",
        "monitoring.silk_prune",
        "jobs.prune",
        "reports.expire",
        "commerce.cache_warm",
        "commerce.import_uploads_prune",
    } <= set(scheduled)
    assert set(scheduled.values()) == {Queue.SYSTEM}
    assert [kind.name for kind in kinds_all() if kind.public and kind.queue == Queue.SYSTEM] == []


def test_a_kind_cannot_be_registered_public_on_the_system_queue_nor_scheduled_elsewhere():
    with pytest.raises(ValueError, match="a public kind cannot run on the system queue"):
        job("tests.public_system", queue=Queue.SYSTEM, public=True)
    with pytest.raises(ValueError, match="a scheduled kind runs on the system queue"):
        job("tests.scheduled_low", queue=Queue.LOW, every=datetime.timedelta(hours=1))


def test_every_queue_has_a_worker_cluster(settings):
    clusters = {settings.Q_CLUSTER["name"], *settings.Q_CLUSTER["ALT_CLUSTERS"]}
    assert clusters == set(Queue.values)
    assert settings.Q_CLUSTER["ALT_CLUSTERS"]["system"]["workers"] == settings.JOBS_WORKERS["system"] >= 1


# --- Diagnostics bounds ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("diagnostics.sleep", {"seconds": 61}, "seconds: Input should be less than or equal to 60"),
        (
            "diagnostics.sleep",
            {"seconds": 1, "steps": 101},
            "steps: Input should be less than or equal to 100",
        ),
        ("diagnostics.fail", {"times": 11}, "times: Input should be less than or equal to 10"),
    ],
)
def test_diagnostics_bounds_for_users_are_small(alice_client, kind, params, message):
    response = submit(alice_client, kind=kind, params=params)

    assert response.status_code == 422
    assert message in response.json()["message"]
    assert not Job.objects.exists()


def test_staff_keep_the_large_diagnostics_bounds(ops_client):
    assert (
        submit(ops_client, kind="diagnostics.sleep", params={"seconds": 3600, "steps": 10000}).status_code
        == 202
    )
    assert submit(ops_client, kind="diagnostics.fail", params={"times": 1000}).status_code == 202
    assert submit(ops_client, kind="diagnostics.sleep", params={"seconds": 3601}).status_code == 422


def test_the_kinds_list_shows_each_persona_its_own_bounds(alice_client, ops_client, alice):
    def sleep_seconds(client) -> dict:
        kinds = {kind["name"]: kind for kind in client.get(f"{JOBS_URL}/kinds").json()}
        return kinds["diagnostics.sleep"]["params_schema"]["properties"]["seconds"]

    assert sleep_seconds(ops_client)["maximum"] == 3600
    ops_client.force_login(alice)
    assert sleep_seconds(ops_client)["maximum"] == 60


# --- Cursors and other numbers --------------------------------------------------------

BAD_CURSORS = {
    "not base64": "!!!",
    "not a list": cursor_encode({"a": 1}),  # type: ignore[arg-type]
    "wrong length": cursor_encode(["2020-01-01T00:00:00+00:00"]),
    "time not a string": cursor_encode([1, 1]),
    "id a string": cursor_encode(["2020-01-01T00:00:00+00:00", "5"]),
    "id a float": cursor_encode(["2020-01-01T00:00:00+00:00", 1.5]),
    "id a boolean": cursor_encode(["2020-01-01T00:00:00+00:00", True]),
    "id past int64": cursor_encode(["2020-01-01T00:00:00+00:00", 2**70]),
    "no timezone": cursor_encode(["2020-01-01T00:00:00", 1]),
    "far future": cursor_encode(["9999-12-31T23:59:59-14:00", 1]),
    "before year 1 in UTC": cursor_encode(["0001-01-01T00:00:00+14:00", 1]),
    "not a date": cursor_encode(["2020-13-01T00:00:00+00:00", 1]),
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_a_cursor_no_page_issued_is_422_in_the_api_and_the_first_page_on_pages(alice_client, alice, cursor):
    job = services.enqueue("diagnostics.noop", owner=alice)

    response = alice_client.get(JOBS_URL, {"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid input: cursor is not one this API issued."

    for name in ("after", "before"):
        page = alice_client.get("/jobs/", {name: cursor})
        assert page.status_code == 200
        assert str(job.uuid).encode() in page.content


@pytest.mark.parametrize(("limit", "status"), [("0", 422), ("-1", 422), ("1e3", 422), (str(10**30), 200)])
def test_limit_is_bounded(alice_client, limit, status):
    assert alice_client.get(JOBS_URL, {"limit": limit}).status_code == status


def test_ids_out_of_bigint_range_in_admin_urls_do_not_fail(ops_client):
    for url in (
        f"/admin/jobs/job/{2**70}/change/",
        f"/admin/jobs/job/?owner__id__exact={2**70}",
    ):
        assert ops_client.get(url).status_code in (200, 302)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--limit", "0"], "--limit must be from 1 to 100,000 (got 0)."),
        (["list", "--limit", str(10**20)], f"--limit must be from 1 to 100,000 (got {10**20})."),
        (["purge", "--older-than-days", str(10**9)], "older_than_days must be from 0 to 36,500"),
    ],
)
def test_command_numbers_are_bounded(args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("jobs", *args)


def test_dispatcher_interval_is_bounded():
    for interval in ("-1", "nan", "inf", "86400"):
        with pytest.raises(CommandError, match="--interval must be more than 0"):
            call_command("jobs_dispatcher", "--once", "--interval", interval)


def test_nul_characters_in_job_inputs_are_4xx_not_500(alice_client):
    listed = alice_client.get(JOBS_URL, {"kind": "a\x00b"})
    submitted = submit(alice_client, kind="diagnostics.noop", idempotency_key="a\x00b")
    page = alice_client.get("/jobs/", {"kind": "a\x00b"})

    assert listed.status_code == 400 and "NUL" in listed.json()["message"]
    assert submitted.status_code == 422 and "NUL" in submitted.json()["message"]
    assert page.status_code == 400
    assert not Job.objects.exists()
