"""A run's page says each thing once and as it is: its size, the parameters given, the
number of rows, and a confirmation that stays true whatever state the run has reached."""

import pytest
from django.urls import reverse

from apps.reports import services
from apps.reports.models import ReportRun

pytestmark = pytest.mark.django_db


def test_ready_run_shows_its_size_once_and_leaves_out_empty_parameters(
    alice_client, alice, small_data, media
):
    run = services.report_run_create(
        owner=alice,
        report="lineitems_export",
        params={"ship_date_from": "1993-01-01", "ship_date_to": None},
        format="csv",
    )
    services.report_run_generate(run=run)
    run.refresh_from_db()

    body = alice_client.get(reverse("reports:run", args=[run.uuid])).content.decode()

    assert "<code>ship_date_from=1993-01-01</code>" in body
    assert "ship_date_to" not in body
    assert body.count(f"{run.size} bytes") == 1
    assert f"({run.size} bytes)" not in body
    assert f"<dt>Rows</dt><dd>{run.rows}</dd>" in body


def test_run_without_any_parameter_given_says_none(alice_client, alice):
    run = services.report_run_create(
        owner=alice, report="lineitems_export", params={"ship_date_to": None}, format="csv"
    )

    body = alice_client.get(reverse("reports:run", args=[run.uuid])).content.decode()

    assert "ship_date_to" not in body
    assert '<span class="muted">none</span>' in body


def test_confirmation_after_the_form_does_not_say_queued_beside_ready(alice_client, small_data, media):
    response = alice_client.post(
        reverse("reports:new", args=["orders_export"]), {"format": "csv"}, follow=False
    )
    run = ReportRun.objects.get()
    # The worker was quicker than the browser's redirect.
    services.report_run_generate(run=run)

    body = alice_client.get(response["Location"]).content.decode()

    assert "Ready" in body
    assert "Orders export requested." in body
    assert "queued" not in body.lower()


def test_my_reports_says_row_for_a_file_of_one_row(alice_client, alice, small_data, media):
    run = services.report_run_create(
        owner=alice, report="orders_export", params={"status": "O"}, format="csv"
    )
    services.report_run_generate(run=run)
    run.refresh_from_db()
    assert run.rows == 1

    body = alice_client.get(reverse("reports:runs")).content.decode()

    assert ">1 row<" in body
    assert "1 rows" not in body
