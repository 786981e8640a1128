"""The import page and `POST /api/commerce/imports`: staff only, size limit before storing."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client
from django.test.client import FakePayload

from apps.core.services import api_token_create
from apps.jobs.models import Job
from tests.commerce.files import stored_uploads

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("broker_stubbed", "media")]

PAGE = "/imports/"
API = "/api/commerce/imports"
ORDERS_HEADER = (
    b"o_orderkey,o_custkey,o_orderstatus,o_totalprice,o_orderdate,o_orderpriority,o_clerk,"
    b"o_shippriority,o_comment\n"
)
ORDERS_CSV = ORDERS_HEADER + b"1,370,O,172799.49,1996-01-02,5-LOW,Clerk#000000951,0,nstructions\n"


def csv_file(content: bytes = ORDERS_CSV, name: str = "orders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def oversize(limit: int, extra: int) -> bytes:
    """A valid-looking orders file ``extra`` bytes over ``limit``."""
    return ORDERS_HEADER + b"x" * (limit + extra - len(ORDERS_HEADER))


# --- Page ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/imports/")


def test_non_staff_gets_403_and_cannot_upload(alice_client):
    assert alice_client.get(PAGE).status_code == 403

    response = alice_client.post(PAGE, {"table": "orders", "file": csv_file()})

    assert response.status_code == 403
    assert stored_uploads() == []
    assert not Job.objects.exists()


@pytest.fixture
def body_reads(monkeypatch) -> dict:
    """Bytes the app read of request bodies, and temporary upload files it created."""
    seen = {"bytes": 0, "temporary_files": 0}
    read, readline, new_file = FakePayload.read, FakePayload.readline, TemporaryFileUploadHandler.new_file

    def counted_read(self, *args):
        data = read(self, *args)
        seen["bytes"] += len(data)
        return data

    def counted_readline(self, *args):
        data = readline(self, *args)
        seen["bytes"] += len(data)
        return data

    def counted_new_file(self, *args, **kwargs):
        seen["temporary_files"] += 1
        return new_file(self, *args, **kwargs)

    monkeypatch.setattr(FakePayload, "read", counted_read)
    monkeypatch.setattr(FakePayload, "readline", counted_readline)
    monkeypatch.setattr(TemporaryFileUploadHandler, "new_file", counted_new_file)
    return seen


@pytest.mark.parametrize("target", ["page", "api-session", "api-token"])
@pytest.mark.parametrize(
    ("size", "most_read"),
    # Over the form limit (DATA_UPLOAD_MAX_MEMORY_SIZE): not read at all. Under it: read
    # up to where the file starts (one 64 KiB read buffer), never the file.
    [(5_000_000, 0), (2_000_000, 140_000)],
    ids=["5MB", "2MB"],
)
def test_non_staff_upload_is_refused_before_the_file_is_read(alice, body_reads, target, size, most_read):
    client = Client()
    if target == "api-token":
        _, token = api_token_create(user=alice)
        client = Client(headers={"Authorization": f"Bearer {token}"})
    else:
        client.force_login(alice)
    upload = csv_file(ORDERS_HEADER + b"x" * size)

    response = client.post(PAGE if target == "page" else API, {"table": "orders", "file": upload})

    assert response.status_code == 403
    assert body_reads["bytes"] <= most_read
    assert body_reads["temporary_files"] == 0
    assert stored_uploads() == []
    assert not Job.objects.exists()


def test_staff_upload_of_the_same_size_is_read_in_full(ops_client, body_reads):
    response = ops_client.post(API, {"table": "orders", "file": csv_file(ORDERS_CSV + b"x" * 3_000_000)})

    # Read in full and streamed to a temporary file (then refused for its bad line).
    assert body_reads["bytes"] > 3_000_000
    assert body_reads["temporary_files"] == 1
    assert response.status_code in (202, 422)


def test_non_staff_multipart_form_without_a_file_still_arrives(alice_client):
    # The login form, as the test client sends it (multipart): fields before any file are read.
    response = alice_client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "correct username and password" in response.text


def test_staff_sees_the_form_and_recent_imports_in_few_queries(
    ops_client, ops, django_assert_max_num_queries
):
    for _ in range(3):
        ops_client.post(PAGE, {"table": "orders", "file": csv_file()})

    with django_assert_max_num_queries(4):
        response = ops_client.get(PAGE)

    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content
    assert b"csrfmiddlewaretoken" in response.content
    assert response.content.count(b"commerce.import_csv") == 0  # rows show the table, not the kind
    assert response.content.count(b"<td>orders</td>") == 3


def test_staff_upload_becomes_a_job_owned_by_the_uploader(ops_client, ops):
    response = ops_client.post(PAGE, {"table": "orders", "file": csv_file()})

    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.uuid}/"
    assert job.kind == "commerce.import_csv"
    assert job.owner == ops
    assert job.params["table"] == "orders"
    assert job.params["filename"] == "orders.csv"
    assert stored_uploads() == [job.params["upload"].split("/")[1]]
    assert default_storage.open(job.params["upload"]).read() == ORDERS_CSV


def test_upload_form_requires_the_csrf_token(ops):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops)

    response = client.post(PAGE, {"table": "orders", "file": csv_file()})

    assert response.status_code == 403
    assert stored_uploads() == []


def test_file_of_another_table_is_a_form_error_and_nothing_is_stored(ops_client):
    customers = b"c_custkey,c_name,c_address,c_nationkey,c_phone,c_acctbal,c_mktsegment,c_comment\n1,a\n"

    response = ops_client.post(PAGE, {"table": "orders", "file": csv_file(customers)})

    assert response.status_code == 422
    assert "not a CSV file of the orders table" in response.text
    assert stored_uploads() == []
    assert not Job.objects.exists()


@pytest.mark.parametrize("extra", [100_000, 10], ids=["content-length-over", "stream-over"])
def test_upload_over_the_limit_is_refused_before_it_is_stored(ops_client, settings, extra):
    # 100 kB over: refused from Content-Length, unread; 10 bytes over: refused while streaming.
    settings.IMPORT_MAX_UPLOAD_BYTES = 2_000

    response = ops_client.post(PAGE, {"table": "orders", "file": csv_file(oversize(2_000, extra))})

    assert response.status_code == 413
    assert "limit of 2.0\xa0KB" in response.text
    assert "nothing was stored" in response.text
    assert stored_uploads() == []
    assert not Job.objects.exists()


# --- API ------------------------------------------------------------------------------


def test_api_upload_by_staff_returns_202_with_the_job(ops_client, ops):
    response = ops_client.post(API, {"table": "orders", "file": csv_file()})

    assert response.status_code == 202, response.content
    body = response.json()
    job = Job.objects.get()
    assert body == {
        "id": str(job.uuid),
        "kind": "commerce.import_csv",
        "status": "queued",
        "table": "orders",
        "filename": "orders.csv",
        "url": f"/api/jobs/{job.uuid}",
        "page": f"/jobs/{job.uuid}/",
    }
    assert job.owner == ops
    assert len(stored_uploads()) == 1


def test_api_upload_with_a_token(ops):
    _, token = api_token_create(user=ops, name="ci")
    client = Client(headers={"Authorization": f"Bearer {token}"})

    response = client.post(API, {"table": "lineitems", "file": csv_file(ORDERS_CSV)})

    # "lineitems" is the line item table: an orders file is not one.
    assert response.status_code == 422
    assert "not a CSV file of the lineitem table" in response.json()["message"]


def test_api_refuses_anonymous_and_non_staff(alice_client):
    assert Client().post(API, {"table": "orders", "file": csv_file()}).status_code == 401

    response = alice_client.post(API, {"table": "orders", "file": csv_file()})

    assert response.status_code == 403
    assert response.json() == {"message": "Importing data is for staff."}
    assert stored_uploads() == []


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"table": "orders"}, 422, "attach the CSV file as the multipart field `file`"),
        ({"table": "suppliers", "file": "csv"}, 422, "Unknown table 'suppliers'"),
        ({"table": "orders", "file": "empty"}, 422, "The file is empty."),
    ],
)
def test_api_bad_input_is_a_422_with_a_message(ops_client, data, status, message):
    if data.get("file") == "csv":
        data["file"] = csv_file()
    elif data.get("file") == "empty":
        data["file"] = csv_file(b"")

    response = ops_client.post(API, data)

    assert response.status_code == status
    assert message in response.json()["message"]
    assert stored_uploads() == []


@pytest.mark.parametrize("extra", [100_000, 10], ids=["content-length-over", "stream-over"])
def test_api_upload_over_the_limit_is_413_and_nothing_is_stored(ops_client, settings, extra):
    settings.IMPORT_MAX_UPLOAD_BYTES = 2_000

    response = ops_client.post(API, {"table": "orders", "file": csv_file(oversize(2_000, extra))})

    assert response.status_code == 413
    assert "nothing was stored" in response.json()["message"]
    assert stored_uploads() == []
    assert not Job.objects.exists()
