"""Importing an uploaded CSV file as a job: the upload stored, imported or rejected, removed.

The files are tpchgen-cli's scale 0.01 (generated once per session).
"""

import datetime
import os
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.commerce.models import Order
from apps.commerce.services import ImportInputError, import_enqueue, import_uploads_prune
from apps.jobs import runner
from apps.jobs.models import Job, Status
from tests.commerce.files import broken, data_lines, stored_uploads


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="text/csv")


@pytest.mark.django_db(transaction=True)
def test_import_job_reports_progress_and_result_and_removes_the_upload(
    tpch_dir, customers_loaded, ops, media, broker_stubbed
):
    job = import_enqueue(table="orders", file=upload(tpch_dir / "orders.csv"), owner=ops)
    assert job.owner == ops
    assert job.params["upload"].startswith("imports/")
    assert len(stored_uploads()) == 1

    assert runner.execute(job.pk) == "succeeded"

    job.refresh_from_db()
    rows = data_lines(tpch_dir / "orders.csv")
    assert job.result["imported"] is True
    assert job.result["rows"] == rows == Order.objects.count()
    assert job.result["errors"] == []
    assert job.progress_message == "imported"
    assert job.progress_done == rows
    assert stored_uploads() == []


@pytest.mark.django_db(transaction=True)
def test_rejected_import_job_lists_the_errors_in_its_result(
    tpch_dir, customers_loaded, ops, media, broker_stubbed, tmp_path
):
    orders = broken(
        tpch_dir / "orders.csv", tmp_path / "my-orders.csv", line=7_000, pattern=r",[OFP],", replacement=",X,"
    )
    job = import_enqueue(table="orders", file=upload(orders), owner=ops)

    runner.execute(job.pk)

    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED
    assert job.result["imported"] is False
    assert job.result["rows"] == 0
    assert job.result["errors"] == [
        {
            "line": 7_000,
            "column": "o_orderstatus",
            "message": "not one of O, F, P (got `X`)",
            "text": "line 7,000, column o_orderstatus: not one of O, F, P (got `X`)",
        }
    ]
    assert job.result["message"].startswith("Nothing was imported: my-orders.csv has 1 problem;")
    assert job.progress_message == "rejected: nothing imported"
    assert Order.objects.count() == 0
    assert stored_uploads() == []


@pytest.mark.django_db
def test_upload_of_another_tables_file_is_refused_before_storing(tpch_dir, ops, media):
    with pytest.raises(ImportInputError, match="not a CSV file of the orders table"):
        import_enqueue(table="orders", file=upload(tpch_dir / "customer.csv"), owner=ops)

    assert stored_uploads() == []
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_uploads_left_behind_are_pruned_after_the_retention(media):
    old = default_storage.save("imports/" + "a" * 32 + ".csv", SimpleUploadedFile("x.csv", b"x"))
    new = default_storage.save("imports/" + "b" * 32 + ".csv", SimpleUploadedFile("y.csv", b"y"))
    past = (datetime.datetime.now() - datetime.timedelta(days=8)).timestamp()
    os.utime(default_storage.path(old), (past, past))

    assert import_uploads_prune() == 1
    assert stored_uploads() == [Path(new).name]
