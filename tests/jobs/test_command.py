"""``manage.py jobs list|show|retry|cancel|purge``."""

import datetime
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.jobs import runner, services
from apps.jobs.management.commands.jobs import Command
from apps.jobs.models import Job, Status
from tests.jobs.conftest import run_until_dead, runs_jobs

pytestmark = pytest.mark.django_db


def jobs(*args: str) -> str:
    out = StringIO()
    call_command("jobs", *args, stdout=out)
    return out.getvalue()


def finished_days_ago(job: Job, days: float, status: str = Status.SUCCEEDED) -> None:
    Job.objects.filter(pk=job.pk).update(
        status=status, finished_at=timezone.now() - datetime.timedelta(days=days)
    )


# --- list -----------------------------------------------------------------------------


@runs_jobs
def test_list_prints_an_aligned_table_newest_first(alice):
    older = services.enqueue("diagnostics.sleep", params={"seconds": 1}, owner=alice)
    newer = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(newer.pk)

    lines = jobs("list").splitlines()

    assert lines[0].split() == ["ID", "KIND", "QUEUE", "STATUS", "ATTEMPTS", "PROGRESS", "CREATED", "AGE"]
    assert lines[1].startswith(str(newer.uuid)) and lines[2].startswith(str(older.uuid))
    assert "succeeded" in lines[1] and "100%" in lines[1] and "1/1" in lines[1]
    assert "queued" in lines[2] and "0/1" in lines[2]
    # Columns line up: each starts at the same offset on every line.
    for column in ("KIND", "STATUS", "CREATED"):
        offset = lines[0].index(column)
        assert lines[1][offset - 2 : offset] == "  " and lines[1][offset] != " "
        assert lines[2][offset - 2 : offset] == "  " and lines[2][offset] != " "


def test_list_filters_by_status_and_kind_and_limits(alice):
    noop = services.enqueue("diagnostics.noop", owner=alice)
    sleep = services.enqueue("diagnostics.sleep", owner=alice)
    services.job_cancel(job=sleep)
    for _ in range(3):
        services.enqueue("diagnostics.noop", owner=alice)

    assert str(sleep.uuid) in jobs("list", "--status", "cancelled")
    assert str(noop.uuid) not in jobs("list", "--status", "cancelled")
    assert str(sleep.uuid) not in jobs("list", "--kind", "diagnostics.noop")
    assert len(jobs("list", "--limit", "2").splitlines()) == 3


def test_list_without_jobs_says_so():
    assert jobs("list") == "No jobs.\n"


def test_list_refuses_unknown_status():
    with pytest.raises(CommandError, match="invalid choice: 'lost'"):
        jobs("list", "--status", "lost")


# --- show -----------------------------------------------------------------------------


@runs_jobs
def test_show_prints_fields_attempts_and_log(alice):
    job = run_until_dead(services.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))

    out = jobs("show", str(job.uuid))

    assert f"id         {job.uuid}" in out
    assert "status     dead" in out
    assert "owner      alice" in out
    assert "attempts   3/3" in out
    assert 'params     {"times": 5}' in out
    assert "Attempts (3):" in out
    assert out.count(" failed ") == 3
    assert "Failing on purpose (attempt 2 of the first 5)" in out
    assert "attempt 3: failing on purpose" in out
    assert "RuntimeError" in out


def test_show_unknown_job_is_one_readable_error():
    missing = uuid.uuid4()

    with pytest.raises(CommandError, match=rf"^No job with id '{missing}'\.$"):
        jobs("show", str(missing))
    with pytest.raises(CommandError, match=r"^No job with id 'banana'\.$"):
        jobs("show", "banana")


# --- retry and cancel -----------------------------------------------------------------


@runs_jobs
def test_dead_job_replays_keeping_history(alice):
    job = run_until_dead(services.enqueue("diagnostics.fail", params={"times": 3}, owner=alice))

    out = jobs("retry", str(job.uuid))

    assert out == f"Retried {job.uuid} (diagnostics.fail): now queued.\n"
    assert runner.execute(job.pk) == "succeeded"
    assert job.attempt_history.count() == 4


@runs_jobs
def test_retrying_a_job_that_cannot_be_retried_is_an_error(alice):
    dead = run_until_dead(services.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))
    queued = services.enqueue("diagnostics.noop", owner=alice)
    out = StringIO()

    with pytest.raises(CommandError, match=f"^Could not retry {queued.uuid}: Only dead"):
        call_command("jobs", "retry", str(dead.uuid), str(queued.uuid), stdout=out)

    # The others were still retried.
    assert f"Retried {dead.uuid}" in out.getvalue()
    dead.refresh_from_db()
    assert dead.status == Status.QUEUED


@runs_jobs
def test_unknown_id_stops_retry_before_anything_changes(alice):
    dead = run_until_dead(services.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))
    missing = uuid.uuid4()

    with pytest.raises(CommandError, match=f"No job with id '{missing}'"):
        jobs("retry", str(dead.uuid), str(missing))

    dead.refresh_from_db()
    assert dead.status == Status.DEAD


def test_cancel_cancels_waiting_jobs_and_asks_running_ones_to_stop(alice):
    waiting = services.enqueue("diagnostics.noop", owner=alice)
    running = services.enqueue("diagnostics.noop", owner=alice)
    services.job_claim(job_id=running.pk, worker="test:1")

    out = jobs("cancel", str(waiting.uuid), str(running.uuid))

    assert f"Cancelled {waiting.uuid} (diagnostics.noop)." in out
    assert f"Asked {running.uuid} (diagnostics.noop) to stop; it is still running." in out
    waiting.refresh_from_db()
    running.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    assert running.cancel_requested_at is not None


@runs_jobs
def test_cancelling_a_finished_job_is_an_error(alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(job.pk)

    with pytest.raises(CommandError, match=r"^Could not cancel .*: The job already ended \(succeeded\)\.$"):
        jobs("cancel", str(job.uuid))


# --- purge ----------------------------------------------------------------------------


def test_purge_deletes_only_ended_jobs_older_than_n_days(alice):
    old_done, old_dead, old_cancelled, recent, waiting = (
        services.enqueue("diagnostics.noop", owner=alice) for _ in range(5)
    )
    finished_days_ago(old_done, 10)
    finished_days_ago(old_dead, 10, Status.DEAD)
    finished_days_ago(old_cancelled, 10, Status.CANCELLED)
    finished_days_ago(recent, 2)
    # A waiting job is never purged, however old.
    Job.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - datetime.timedelta(days=100))

    out = jobs("purge", "--older-than-days", "7")

    assert out.startswith("Deleted 3 jobs (succeeded, dead, cancelled)")
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_purge_defaults_to_retention_days(alice, settings):
    settings.JOBS_RETENTION_DAYS = 30
    old, young = (
        services.enqueue("diagnostics.noop", owner=alice),
        services.enqueue("diagnostics.noop", owner=alice),
    )
    finished_days_ago(old, 31)
    finished_days_ago(young, 29)

    assert jobs("purge").startswith("Deleted 1 jobs")
    assert list(Job.objects.values_list("pk", flat=True)) == [young.pk]


def test_purge_dry_run_counts_and_deletes_nothing(alice):
    job = services.enqueue("diagnostics.fail", owner=alice)
    finished_days_ago(job, 40)

    assert jobs("purge", "--dry-run").startswith("Would delete 1 jobs")
    assert Job.objects.filter(pk=job.pk).exists()


def test_purge_by_status_keeps_the_others(alice):
    dead, done = (
        services.enqueue("diagnostics.noop", owner=alice),
        services.enqueue("diagnostics.noop", owner=alice),
    )
    finished_days_ago(dead, 40, Status.DEAD)
    finished_days_ago(done, 40)

    assert jobs("purge", "--status", "dead", "--older-than-days", "1").startswith("Deleted 1 jobs (dead)")
    assert list(Job.objects.values_list("pk", flat=True)) == [done.pk]


@runs_jobs
def test_purge_removes_attempts_history_too(alice):
    job = run_until_dead(services.enqueue("diagnostics.fail", params={"times": 5}, owner=alice))
    finished_days_ago(job, 40, Status.DEAD)

    jobs("purge")

    # (Its owner's notification e-mail is a job of its own, queued: not purged.)
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not job.attempt_history.exists()


def test_purge_refuses_unfinished_status_and_negative_days():
    with pytest.raises(CommandError, match="invalid choice: 'queued'"):
        jobs("purge", "--status", "queued")
    with pytest.raises(CommandError, match="cannot be negative"):
        jobs("purge", "--older-than-days", "-1")


def test_every_option_has_help():
    parser = Command().create_parser("manage.py", "jobs")
    subparsers = next(action for action in parser._actions if action.dest == "action")
    for name, subparser in subparsers.choices.items():
        for action in subparser._actions:
            assert action.help, f"jobs {name} {action.dest} has no help"


def test_show_progress_figures_agree_with_the_percentage(alice):
    ended = services.enqueue("diagnostics.noop", owner=alice)
    # An import that rejected its file ends this way: nothing counted, no total.
    Job.objects.filter(pk=ended.pk).update(
        status=Status.SUCCEEDED, progress_done=0, progress_total=None, progress_message="rejected"
    )
    midway = services.enqueue("diagnostics.noop", owner=alice)
    Job.objects.filter(pk=midway.pk).update(status=Status.RUNNING, progress_done=250, progress_total=1000)

    assert "progress   done (0 counted, no total reported): rejected\n" in jobs("show", str(ended.uuid))
    assert "100%" not in jobs("show", str(ended.uuid))
    assert "progress   250 of 1,000 (25%)\n" in jobs("show", str(midway.uuid))
