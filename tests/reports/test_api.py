"""The reports API: POST and GET /api/reports, GET /api/reports/{id}, its download, the catalog."""

import pytest

from apps.reports import services
from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db


def submit(client, **body):
    return client.post("/api/reports", body, content_type="application/json")


def test_anonymous_gets_401(client, alice):
    run = services.report_run_create(owner=alice, report="pricing_summary", params={}, format="csv")
    assert submit(client, report="pricing_summary").status_code == 401
    assert client.get(f"/api/reports/{run.uuid}").status_code == 401
    assert client.get(f"/api/reports/{run.uuid}/download").status_code == 401
    assert client.get("/api/reports/catalog").status_code == 401


def test_catalog_lists_reports_with_defaults_and_schema(alice_client):
    reports = {item["name"]: item for item in alice_client.get("/api/reports/catalog").json()}
    assert reports["large_volume_customers"]["defaults"] == {"quantity": 300}
    assert [c["name"] for c in reports["local_supplier_volume"]["columns"]] == ["n_name", "revenue"]
    assert reports["orders_export"]["formats"] == ["csv"]
    assert "segment" in reports["shipping_priority"]["params_schema"]["properties"]


def test_submit_returns_202_with_the_run_and_its_job(alice_client, alice):
    response = submit(
        alice_client, report="shipping_priority", params={"segment": "MACHINERY"}, format="xlsx"
    )
    body = response.json()
    run = ReportRun.objects.select_related("job").get()
    assert response.status_code == 202
    assert response["Location"] == body["url"]
    assert body["id"] == str(run.uuid)
    assert body["state"] == "queued"
    assert body["params"] == {"segment": "MACHINERY", "date": "1995-03-15"}
    assert body["job"]["id"] == str(run.job.uuid)
    assert body["job"]["status"] == "queued"
    assert body["download_url"] is None
    assert run.owner == alice


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"report": "nope"}, "Unknown report 'nope'"),
        (
            {"report": "returned_items", "params": {"date": "1993-13-01"}},
            "Invalid parameters for returned_items: date:",
        ),
        (
            {"report": "lineitems_export", "format": "xlsx"},
            "lineitems_export is available as csv (got 'xlsx').",
        ),
        ({"params": {}}, "report: Field required"),
    ],
)
def test_bad_submissions_get_422_with_a_message_and_create_nothing(alice_client, body, message):
    response = submit(alice_client, **body)
    assert response.status_code == 422
    assert message in response.json()["message"]
    assert not ReportRun.objects.exists()


def test_get_run_is_for_its_owner_and_staff(client, alice, bob, ops, django_assert_max_num_queries):
    run = services.report_run_create(owner=alice, report="pricing_summary", params={}, format="csv")
    url = f"/api/reports/{run.uuid}"
    client.force_login(alice)
    with django_assert_max_num_queries(3):
        assert client.get(url).json()["id"] == str(run.uuid)
    client.force_login(bob)
    response = client.get(url)
    assert response.status_code == 404
    assert response.json() == {"message": "No such report run."}
    client.force_login(ops)
    assert client.get(url).status_code == 200
    assert client.get("/api/reports/not-a-uuid").status_code == 404


def test_download_before_the_file_is_ready_is_409_with_a_message(alice_client, alice):
    run = services.report_run_create(owner=alice, report="pricing_summary", params={}, format="csv")
    response = alice_client.get(f"/api/reports/{run.uuid}/download")
    assert response.status_code == 409
    assert response.json()["message"].startswith("The file is not ready yet (the run is queued)")


def test_download_of_a_ready_run_streams_the_file(client, alice, bob, small_data, media):
    run = services.report_run_create(owner=alice, report="returned_items", params={}, format="xlsx")
    services.report_run_generate(run=run)
    client.force_login(alice)
    body = client.get(f"/api/reports/{run.uuid}").json()
    assert body["state"] == "ready"
    assert body["rows"] == 1
    assert body["sha256"] == run.checksum
    assert body["download_url"].endswith(f"/api/reports/{run.uuid}/download")

    response = client.get(f"/api/reports/{run.uuid}/download")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == f'attachment; filename="{run.download_name}"'
    assert response["X-Checksum-SHA256"] == run.checksum
    assert b"".join(response.streaming_content)[:2] == b"PK"
    client.force_login(bob)
    assert client.get(f"/api/reports/{run.uuid}/download").status_code == 404


def test_expired_run_download_is_409_saying_it_expired(alice_client, alice, small_data, media):
    run = services.report_run_create(owner=alice, report="orders_export", params={}, format="csv")
    services.report_run_generate(run=run)
    ReportRun.objects.filter(pk=run.pk).update(expires_at=run.created_at)
    services.report_runs_expire()
    response = alice_client.get(f"/api/reports/{run.uuid}/download")
    assert response.status_code == 409
    assert "expired" in response.json()["message"]
    assert alice_client.get(f"/api/reports/{run.uuid}").json()["state"] == "expired"


def test_list_shows_own_runs_newest_first_in_pages(alice_client, alice, bob, settings):
    settings.API_PAGE_SIZE = 2
    mine = [
        services.report_run_create(owner=alice, report=name, params={}, format="csv")
        for name in ("pricing_summary", "shipping_priority", "pricing_summary")
    ]
    services.report_run_create(owner=bob, report="pricing_summary", params={}, format="csv")
    first = alice_client.get("/api/reports").json()
    assert [item["id"] for item in first["items"]] == [str(mine[2].uuid), str(mine[1].uuid)]
    assert first["items"][0]["state"] == "queued"
    second = alice_client.get(first["next_url"]).json()
    assert [item["id"] for item in second["items"]] == [str(mine[0].uuid)]
    assert second["next"] is None
    only = alice_client.get("/api/reports", {"report": "shipping_priority"}).json()
    assert [item["id"] for item in only["items"]] == [str(mine[1].uuid)]


def test_list_shows_everybodys_runs_to_staff_and_refuses_a_bad_cursor(ops_client, alice, bob):
    for owner in (alice, bob):
        services.report_run_create(owner=owner, report="pricing_summary", params={}, format="csv")
    assert len(ops_client.get("/api/reports").json()["items"]) == 2
    response = ops_client.get("/api/reports", {"cursor": "not-ours"})
    assert response.status_code == 422
    assert "cursor" in response.json()["message"]


def test_list_query_count_does_not_grow_with_the_page(alice_client, alice, django_assert_max_num_queries):
    for _ in range(5):
        services.report_run_create(owner=alice, report="pricing_summary", params={}, format="csv")
    # Session, user, one page of runs with their jobs.
    with django_assert_max_num_queries(3):
        assert len(alice_client.get("/api/reports", {"limit": 5}).json()["items"]) == 5
