"""`manage.py run_report`: inline with a progress bar, or --enqueue; one-line errors."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db


def run_report(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("run_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_inline_run_writes_the_file_and_shows_progress(tmp_path, small_data):
    output = tmp_path / "orders.csv"
    out, err = run_report("orders_export", "--param", "status=F", "--output", str(output))

    with output.open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert [row[0] for row in rows[1:]] == ["1", "3"]
    assert out.startswith("Wrote 2 rows (")
    assert f"to {output}" in out
    assert err.startswith("orders_export")
    assert "2/2 rows" in err
    assert not ReportRun.objects.exists()


def test_enqueue_prints_the_job_id_and_records_the_run(alice):
    out, _ = run_report(
        "pricing_summary", "--param", "delta=60", "--format", "xlsx", "--enqueue", "--user", "alice"
    )

    run = ReportRun.objects.select_related("job").get()
    assert out.strip() == str(run.job.uuid)
    assert run.owner == alice
    assert run.params == {"delta": 60}
    assert run.job.params == {"run_id": run.pk}
    assert (run.report, run.params, run.format) == ("pricing_summary", {"delta": 60}, "xlsx")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such"], "Unknown report 'no_such'; choose one of"),
        (
            ["pricing_summary", "--param", "delta=soon", "--output", "x"],
            "Invalid parameters for pricing_summary: delta:",
        ),
        (["pricing_summary", "--param", "delta"], "--param must look like NAME=VALUE (got 'delta')."),
        (["pricing_summary"], "Give --output FILE for an inline run, or --enqueue."),
        (
            ["orders_export", "--format", "xlsx", "--output", "x"],
            "orders_export is available as csv (got 'xlsx').",
        ),
        (["pricing_summary", "--enqueue", "--user", "nobody"], "No user named 'nobody'."),
    ],
)
def test_mistakes_are_one_line_errors(args, message):
    with pytest.raises(CommandError) as caught:
        run_report(*args)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not ReportRun.objects.exists()


def test_an_existing_output_file_is_kept_without_force(tmp_path):
    output = tmp_path / "keep.csv"
    output.write_text("precious")
    with pytest.raises(CommandError, match="exists; use --force"):
        run_report("pricing_summary", "--output", str(output))
    assert output.read_text() == "precious"
