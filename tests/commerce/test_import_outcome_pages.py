"""What an import shows a person: the import's outcome (imported or rejected, never the
job's "Succeeded" beside "Nothing was imported"), its problems as a table on the job's
page, and a form that keeps its table and its layout."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.commerce.services import import_enqueue
from apps.jobs import runner
from apps.jobs.models import Job

PAGE = "/imports/"
CUSTOMER_HEADER = "c_custkey,c_name,c_address,c_nationkey,c_phone,c_acctbal,c_mktsegment,c_comment\n"
GOOD = "90001,Customer#90001,Somewhere,1,11-111-111-1111,10.00,BUILDING,fine\n"
# Line 2: a bad balance; line 3: a nation that does not exist; line 4: a key already taken.
BAD = (
    "90001,Customer#90001,Somewhere,1,11-111-111-1111,ten,BUILDING,x\n"
    "90002,Customer#90002,Somewhere,77,11-111-111-1111,10.00,BUILDING,x\n"
    "1,Customer#1,Somewhere,1,11-111-111-1111,10.00,BUILDING,x\n"
)


def imported(owner, rows: str) -> Job:
    """A customer import run by the job runner, as a worker would."""
    upload = SimpleUploadedFile("customer.csv", (CUSTOMER_HEADER + rows).encode(), content_type="text/csv")
    job = import_enqueue(table="customer", file=upload, owner=owner)
    assert runner.execute(job.pk) == "succeeded"
    return Job.objects.get(pk=job.pk)


@pytest.mark.django_db(transaction=True)
def test_rejected_import_shows_rejected_and_its_problems_not_succeeded(
    customers_loaded, ops, ops_client, media, broker_stubbed
):
    job = imported(ops, BAD)

    listing = ops_client.get(PAGE).content.decode()
    row = re.search(r"<tr>\s*<td><a href=\"/jobs/[^\"]+\">.*?</tr>", listing, re.S).group(0)
    assert "Rejected" in row
    assert "Succeeded" not in row
    assert "has 3 problems" in row

    page = ops_client.get(reverse("jobs:detail", args=[job.uuid])).content.decode()
    assert '<span class="import-outcome import-outcome-rejected">Rejected</span>' in page
    problems = re.search(r'<table class="compact import-problems">.*?</table>', page, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', problems) == ["2", "3", "4"]
    assert "<code>c_nationkey</code>" in problems
    assert "Nation 77 does not exist" in problems
    assert "&quot;errors&quot;" not in page  # no raw JSON


@pytest.mark.django_db(transaction=True)
def test_import_of_one_row_says_row_in_the_singular(customers_loaded, ops, ops_client, media, broker_stubbed):
    job = imported(ops, GOOD)

    listing = ops_client.get(PAGE).content.decode()
    page = ops_client.get(reverse("jobs:detail", args=[job.uuid])).content.decode()

    assert "1 row imported" in listing
    assert "1 rows" not in listing
    assert '<span class="import-outcome import-outcome-imported">Imported</span>' in listing
    assert "Imported 1 customer from customer.csv" in page


@pytest.mark.django_db(transaction=True)
def test_form_keeps_the_table_of_the_last_import(customers_loaded, ops, ops_client, media, broker_stubbed):
    imported(ops, GOOD)

    form = ops_client.get(PAGE).content.decode()

    assert '<option value="customer" selected>' in form


def field_blocks(page: str) -> list[str]:
    """The form's fields as laid out: each block's tag, class and label."""
    form = re.search(r'<form method="post" enctype="multipart/form-data".*?</form>', page, re.S).group(0)
    return re.findall(r'<div class="form-field">\s*<label for="([^"]+)">', form)


@pytest.mark.django_db
def test_form_layout_is_the_same_with_an_error(ops_client, media, broker_stubbed):
    blank = ops_client.get(PAGE).content.decode()
    wrong = SimpleUploadedFile("orders.csv", b"not,a,header\n1,2,3\n", content_type="text/csv")

    response = ops_client.post(PAGE, {"table": "lineitem", "file": wrong})

    page = response.content.decode()
    assert response.status_code == 422
    assert field_blocks(page) == field_blocks(blank) == ["id_table", "id_file"]
    assert '<option value="lineitem" selected>' in page
    file_block = page.split('<label for="id_file">', 1)[1].split("</div>", 1)[0]
    assert '<span class="error">This is not a CSV file of the lineitem table' in file_block
