"""Bounded inputs of reports: how many runs a user may have at once, extreme parameters,
cursors that no page issued."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.core.cursor import cursor_encode
from apps.jobs import runner
from apps.jobs import services as jobs_services
from apps.jobs.models import Job, Status
from apps.reports import services
from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db

REPORTS_URL = "/api/reports"


def submit(client, **body):
    return client.post(REPORTS_URL, body, content_type="application/json")


@pytest.fixture
def runs_quota_of_2(settings):
    settings.REPORTS_USER_MAX_ACTIVE = 2
    settings.JOBS_USER_MAX_ACTIVE = 20
    settings.JOBS_QUOTA_RETRY_AFTER = 30


def two_runs_of(user) -> list[ReportRun]:
    return [services.report_run_create(owner=user, report="pricing_summary", params={}) for _ in range(2)]


# --- Quota ----------------------------------------------------------------------------


def test_over_the_runs_quota_the_api_answers_429_with_retry_after(alice_client, alice, runs_quota_of_2):
    two_runs_of(alice)

    response = submit(alice_client, report="pricing_summary")

    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert response.json()["message"] == (
        "You have 2 report runs waiting or running; the limit is 2 at a time (REPORTS_USER_MAX_ACTIVE). "
        "Wait for one to finish, or cancel one, then submit again."
    )
    assert ReportRun.objects.count() == 2


def test_over_the_runs_quota_the_form_says_why(alice_client, alice, runs_quota_of_2):
    two_runs_of(alice)

    response = alice_client.post(
        reverse("reports:new", args=["pricing_summary"]), {"delta": "90", "format": "csv"}
    )

    assert response.status_code == 429
    assert response["Retry-After"] == "30"
    assert "You have 2 report runs waiting or running; the limit is 2 at a time" in response.content.decode()
    assert ReportRun.objects.count() == 2


def test_over_the_runs_quota_the_command_stops_with_the_reason(alice, runs_quota_of_2):
    two_runs_of(alice)

    with pytest.raises(CommandError, match="You have 2 report runs waiting or running; the limit is 2"):
        call_command("run_report", "pricing_summary", "--enqueue", "--user", "alice")
    assert ReportRun.objects.count() == 2


def test_a_generate_job_through_the_jobs_api_counts_as_a_run(alice_client, alice, runs_quota_of_2):
    two_runs_of(alice)

    response = alice_client.post(
        "/api/jobs",
        {"kind": "reports.generate", "params": {"report": "pricing_summary"}},
        content_type="application/json",
    )

    assert response.status_code == 429
    assert "report runs" in response.json()["message"]


def test_a_finished_run_frees_its_place(alice_client, alice, runs_quota_of_2):
    first, _ = two_runs_of(alice)
    Job.objects.filter(pk=first.job_id).update(status=Status.SUCCEEDED)

    assert submit(alice_client, report="pricing_summary").status_code == 202
    assert submit(alice_client, report="pricing_summary").status_code == 429


def test_runs_count_towards_the_jobs_quota_too(alice_client, alice, settings):
    settings.REPORTS_USER_MAX_ACTIVE = 5
    settings.JOBS_USER_MAX_ACTIVE = 2
    jobs_services.enqueue("diagnostics.noop", owner=alice, user_submitted=True)
    services.report_run_create(owner=alice, report="pricing_summary", params={})

    response = submit(alice_client, report="pricing_summary")

    assert response.status_code == 429
    assert "You have 2 jobs waiting or running; the limit is 2" in response.json()["message"]


def test_staff_and_runs_without_an_owner_are_not_limited(ops_client, ops, runs_quota_of_2):
    for _ in range(3):
        assert submit(ops_client, report="pricing_summary").status_code == 202
        services.report_run_create(owner=None, report="pricing_summary", params={})
    assert ReportRun.objects.count() == 6


def test_another_users_runs_do_not_count(client, alice, bob, runs_quota_of_2):
    two_runs_of(alice)
    client.force_login(bob)

    assert submit(client, report="pricing_summary").status_code == 202


# --- Parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"report": "monthly_revenue_by_region", "params": {"date_from": "0001-01-01"}},
            "date_from: Input should be greater than or equal to 1990-01-01",
        ),
        (
            {"report": "returned_items", "params": {"date": "9999-12-31"}},
            "date: Input should be less than or equal to 2005-12-31",
        ),
        ({"report": "lineitems_export", "params": {"ship_date_from": "10000-01-01"}}, "ship_date_from:"),
        (
            {"report": "orders_export", "params": {"customer": 2**70}},
            "customer: Input should be less than or equal to 9223372036854775807",
        ),
        ({"report": "pricing_summary", "params": {"delta": 10**30}}, "delta: Input should be less than"),
    ],
)
def test_out_of_range_parameters_are_422(alice_client, body, message):
    response = submit(alice_client, **body)

    assert response.status_code == 422
    assert message in response.json()["message"]
    assert not ReportRun.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"date_from": "10000-01-01", "format": "csv"}, "Enter a valid date."),
        ({"customer": str(2**70), "format": "csv"}, "less than or equal to 9223372036854775807"),
    ],
)
def test_out_of_range_parameters_are_form_errors(alice_client, data, message):
    response = alice_client.post(reverse("reports:new", args=["orders_export"]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReportRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_export_over_the_widest_dates_runs(alice, small_data, media, published):
    run = services.report_run_create(
        owner=alice,
        report="lineitems_export",
        params={"ship_date_from": "0001-01-01", "ship_date_to": "9999-12-31"},
    )

    assert runner.execute(run.job_id) == "succeeded"
    run.refresh_from_db()
    assert run.rows == 3


# --- Cursors --------------------------------------------------------------------------

BAD_CURSORS = {
    "not base64": "!!!",
    "wrong length": cursor_encode([1]),
    "id past int64": cursor_encode(["2020-01-01T00:00:00+00:00", 2**70]),
    "id a string": cursor_encode(["2020-01-01T00:00:00+00:00", "5"]),
    "no timezone": cursor_encode(["2020-01-01T00:00:00", 1]),
    "far future": cursor_encode(["9999-12-31T23:59:59-14:00", 1]),
    "before year 1 in UTC": cursor_encode(["0001-01-01T00:00:00+14:00", 1]),
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_a_cursor_no_page_issued_is_422_in_the_api_and_the_first_page_on_pages(alice_client, alice, cursor):
    run = services.report_run_create(owner=alice, report="pricing_summary", params={})

    response = alice_client.get(REPORTS_URL, {"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid input: cursor is not one this API issued."

    page = alice_client.get(reverse("reports:runs"), {"after": cursor})
    assert page.status_code == 200
    assert str(run.uuid).encode() in page.content


def test_nul_characters_in_report_inputs_are_4xx_not_500(alice_client):
    listed = alice_client.get(REPORTS_URL, {"report": "a\x00b"})
    submitted = submit(alice_client, report="orders_export", params={"date_from": "\x00"})

    assert listed.status_code == 400 and "NUL" in listed.json()["message"]
    assert submitted.status_code == 422 and "NUL" in submitted.json()["message"]
    assert not ReportRun.objects.exists()
