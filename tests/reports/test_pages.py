"""Report pages: catalog, forms, "my reports" with live status, a run's page and download."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.jobs.models import Job
from apps.reports import services
from apps.reports.catalog import REPORTS
from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def queued(owner, report: str = "pricing_summary", **params) -> ReportRun:
    return services.report_run_create(owner=owner, report=report, params=params, format="csv")


def ready(owner) -> ReportRun:
    run = queued(owner, "orders_export")
    services.report_run_generate(run=run)
    return run


# --- Access --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/reports/", "/reports/new/pricing_summary/", "/reports/runs/", "/reports/runs/poll"]
)
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=/reports/")


@pytest.mark.parametrize("name", ["run", "download"])
def test_anonymous_is_sent_to_login_from_a_run(client, alice, name):
    run = queued(alice)
    response = client.get(reverse(f"reports:{name}", args=[run.uuid]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["run", "download"])
def test_other_user_gets_404_for_a_run(client, alice, bob, small_data, media, name):
    run = ready(alice)
    client.force_login(bob)
    assert client.get(reverse(f"reports:{name}", args=[run.uuid])).status_code == 404


def test_staff_sees_and_downloads_any_run(ops_client, alice, small_data, media):
    run = ready(alice)
    page = ops_client.get(reverse("reports:run", args=[run.uuid]))
    assert page.status_code == 200
    assert "alice" in page.content.decode()
    assert ops_client.get(reverse("reports:download", args=[run.uuid])).status_code == 200


# --- Catalog and forms ------------------------------------------------------------------


def test_catalog_lists_every_report_with_a_link_to_its_form(alice_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = alice_client.get(reverse("reports:catalog"))
    body = response.content.decode()
    for definition in REPORTS.values():
        assert reverse("reports:new", args=[definition.name]) in body
        assert definition.title in body


def test_form_shows_the_default_parameters(alice_client):
    response = alice_client.get(reverse("reports:new", args=["shipping_priority"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="1995-03-15"' in body
    assert '<option value="BUILDING" selected>' in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_unknown_report_form_is_404(alice_client):
    assert alice_client.get("/reports/new/no_such/").status_code == 404


def test_valid_form_queues_a_run_and_shows_it(alice_client, alice):
    response = alice_client.post(
        reverse("reports:new", args=["forecast_revenue_change"]),
        {"date": "1995-01-01", "discount": "0.07", "quantity": "25", "format": "xlsx"},
    )
    run = ReportRun.objects.select_related("job").get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:run", args=[run.uuid])
    assert run.owner == alice
    assert run.params == {"date": "1995-01-01", "discount": "0.07", "quantity": 25}
    assert run.format == "xlsx"
    assert run.job.kind == "reports.generate"
    assert run.job.status == "queued"


def test_invalid_form_shows_errors_and_queues_nothing(alice_client):
    response = alice_client.post(
        reverse("reports:new", args=["monthly_revenue_by_region"]),
        {"date_from": "1996-01-01", "date_to": "1995-01-01", "region": "", "format": "csv"},
    )
    assert response.status_code == 400
    assert "date_from must be on or before date_to" in response.content.decode()
    response = alice_client.post(
        reverse("reports:new", args=["pricing_summary"]), {"delta": "-3", "format": "csv"}
    )
    assert response.status_code == 400
    assert "greater than or equal to 0" in response.content.decode()
    assert not ReportRun.objects.exists()
    assert not Job.objects.exists()


def test_form_post_without_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("reports:new", args=["pricing_summary"]), {"delta": "90", "format": "csv"})
    assert response.status_code == 403
    assert not ReportRun.objects.exists()


# --- My reports -------------------------------------------------------------------------------


def test_my_reports_lists_own_runs_only_in_bounded_queries(
    alice_client, alice, bob, django_assert_max_num_queries
):
    mine = [queued(alice) for _ in range(4)]
    other = queued(bob)
    with django_assert_max_num_queries(4):
        response = alice_client.get(reverse("reports:runs"))
    body = response.content.decode()
    assert all(str(run.uuid) in body for run in mine)
    assert str(other.uuid) not in body
    # Unfinished runs are polled, all at once.
    assert 'hx-get="/reports/runs/poll?ids=' in body


def test_staff_list_shows_everyones_runs_with_owners(ops_client, alice, bob):
    runs = [queued(alice), queued(bob)]
    body = ops_client.get(reverse("reports:runs")).content.decode()
    assert all(str(run.uuid) in body for run in runs)
    assert "<td>alice</td>" in body


def test_poll_returns_changing_cells_of_own_runs(alice_client, alice, bob, django_assert_max_num_queries):
    mine, other = queued(alice), queued(bob)
    url = f"{reverse('reports:poll')}?ids={mine.uuid},{other.uuid},not-a-uuid"
    with django_assert_max_num_queries(3):
        response = alice_client.get(url, **HTMX)
    body = response.content.decode()
    assert f'id="run-{mine.uuid}-state" hx-swap-oob="true"' in body
    assert str(other.uuid) not in body


def test_list_of_finished_runs_stops_polling(alice_client, alice, small_data, media):
    run = ready(alice)
    body = alice_client.get(reverse("reports:runs")).content.decode()
    assert reverse("reports:download", args=[run.uuid]) in body
    assert "hx-get" not in body


# --- A run ------------------------------------------------------------------------------------


def test_run_page_polls_while_queued_and_returns_its_live_part_to_htmx(alice_client, alice):
    run = queued(alice)
    url = reverse("reports:run", args=[run.uuid])
    body = alice_client.get(url).content.decode()
    assert f'hx-get="{url}"' in body
    partial = alice_client.get(url, **HTMX).content.decode()
    assert partial.lstrip().startswith("{# ") is False
    assert 'id="run-live"' in partial
    assert "<html" not in partial


def test_ready_run_page_offers_the_download_and_its_checksum(alice_client, alice, small_data, media):
    run = ready(alice)
    body = alice_client.get(reverse("reports:run", args=[run.uuid])).content.decode()
    assert reverse("reports:download", args=[run.uuid]) in body
    assert run.checksum in body
    assert "hx-get" not in body


def test_download_streams_the_file_with_its_type_and_name(alice_client, alice, small_data, media):
    run = ready(alice)
    response = alice_client.get(reverse("reports:download", args=[run.uuid]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{run.download_name}"'
    data = b"".join(response.streaming_content)
    assert len(data) == run.size
    assert data.startswith(b"o_orderkey,")


def test_download_of_a_run_not_ready_goes_back_to_its_page_saying_why(alice_client, alice):
    run = queued(alice)
    response = alice_client.get(reverse("reports:download", args=[run.uuid]))
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:run", args=[run.uuid])
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["The file is not ready yet (the run is queued); try again when its state is ready."]
