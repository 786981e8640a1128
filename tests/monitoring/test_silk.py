from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from silk.models import Request

from apps.monitoring import silk_sampling
from apps.monitoring.services.silk import silk_arm, silk_disarm, silk_prune, silk_requests_left

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_armed():
    silk_disarm(endpoint="GET /healthz")
    yield
    silk_disarm(endpoint="GET /healthz")


def test_silk_records_nothing_by_default(alice_client):
    alice_client.get("/jobs/")
    alice_client.get("/healthz")
    assert Request.objects.count() == 0


def test_an_armed_endpoint_is_recorded_for_its_next_n_requests_only(ops_client):
    response = ops_client.post("/monitoring/endpoint/silk", {"key": "GET /healthz", "requests": "2"})
    assert response.status_code == 302
    assert silk_requests_left(endpoint="GET /healthz") == 2
    for _ in range(3):
        ops_client.get("/healthz")
    ops_client.get("/jobs/")  # another endpoint: not recorded
    assert list(Request.objects.values_list("path", flat=True)) == ["/healthz", "/healthz"]
    assert silk_requests_left(endpoint="GET /healthz") == 0


def test_arming_refuses_a_silly_count(ops_client):
    response = ops_client.post(
        "/monitoring/endpoint/silk", {"key": "GET /healthz", "requests": "0"}, follow=True
    )
    assert "between 1 and 1000" in response.content.decode()
    assert "GET /healthz" not in silk_sampling.armed_endpoints()


def test_staff_header_records_one_request(alice, ops):
    alice_client, ops_client = Client(), Client()
    alice_client.force_login(alice)
    ops_client.force_login(ops)
    alice_client.get("/healthz", headers={"X-Silk-Record": "1"})
    Client().get("/healthz", headers={"X-Silk-Record": "1"})
    assert Request.objects.count() == 0
    ops_client.get("/healthz", headers={"X-Silk-Record": "1"})
    assert Request.objects.count() == 1


def test_sampling_rate_records_everything_at_one(alice_client, settings):
    settings.MONITORING_SILK_SAMPLE_RATE = 1.0
    alice_client.get("/healthz")
    assert Request.objects.count() == 1


def test_prune_deletes_old_recordings(ops_client):
    silk_arm(endpoint="GET /healthz", requests=2)
    ops_client.get("/healthz")
    ops_client.get("/healthz")
    old = Request.objects.first()
    Request.objects.filter(pk=old.pk).update(start_time=timezone.now() - timedelta(days=2))
    assert silk_prune() == 1
    assert Request.objects.count() == 1
