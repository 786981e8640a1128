"""Webhook URLs that reach private networks are refused, at registration and at delivery.

Name resolution is faked, and any connection attempt outside loopback fails the test
(``loopback_only``): these tests never send a packet anywhere else.
"""

import socket

import pytest
from django.urls import reverse

from apps.core import outbound
from apps.jobs import services as jobs
from apps.jobs.errors import JobInputError
from apps.jobs.models import Job, Status
from apps.notifications import services
from apps.notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.notifications.conftest import run_job

pytestmark = pytest.mark.usefixtures("loopback_only")

REFUSED_URLS = [
    ("http://127.0.0.1/", "loopback"),
    ("http://10.0.0.5/", "private"),
    ("http://[::1]/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[fe80::1]/", "link-local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://192.168.1.10:8080/x", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://240.0.0.1/", "reserved"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "kind"), REFUSED_URLS)
def test_private_address_is_refused_at_registration(alice, url, kind):
    with pytest.raises(services.WebhookInputError, match=f"{kind}.*public internet"):
        services.webhook_endpoint_create(owner=alice, url=url)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "::1", "169.254.169.254"])
def test_name_resolving_to_a_private_address_is_refused(alice, fake_dns, address):
    fake_dns({"hooks.example": [address]})
    with pytest.raises(services.WebhookInputError, match=f"hooks.example \\(it resolves to {address}\\)"):
        services.webhook_endpoint_create(owner=alice, url="https://hooks.example/in")


@pytest.mark.django_db
def test_name_with_one_private_address_among_public_ones_is_refused(alice, fake_dns):
    fake_dns({"hooks.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(services.WebhookInputError, match=r"10\.0\.0\.5"):
        services.webhook_endpoint_create(owner=alice, url="https://hooks.example/in")


@pytest.mark.django_db
def test_public_name_is_accepted_without_connecting(alice, fake_dns, loopback_only):
    fake_dns({"hooks.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    endpoint = services.webhook_endpoint_create(owner=alice, url="https://hooks.example/in")
    assert endpoint.secret.startswith("whsec_")
    assert loopback_only == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("http://user:pw@hooks.example/", "no user name or password"),
        ("http:///nohost", "has no host"),
    ],
)
def test_other_unusable_urls_are_refused(alice, fake_dns, url, message):
    fake_dns({"hooks.example": ["93.184.216.34"]})
    with pytest.raises(services.WebhookInputError, match=message):
        services.webhook_endpoint_create(owner=alice, url=url)


@pytest.mark.django_db
def test_unresolvable_name_is_refused_at_registration(alice, monkeypatch):
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(services.WebhookInputError, match="could not be resolved"):
        services.webhook_endpoint_create(owner=alice, url="https://nowhere.example/")


@pytest.mark.django_db
def test_registration_form_shows_why_the_url_is_refused(alice_client):
    response = alice_client.post(reverse("notifications:webhooks"), {"url": "http://169.254.169.254/"})
    assert response.status_code == 200
    assert "link-local" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_registration_api_answers_422_with_the_reason(alice_client):
    response = alice_client.post(
        "/api/notifications/endpoints", {"url": "http://10.0.0.5/"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "10.0.0.5: it is a private address" in response.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[2002:7f00:1::]/", "6to4 form of 127.0.0.1, a loopback address"),
        ("http://[2002:a9fe:a9fe::]/", "6to4 form of 169.254.169.254, a link-local address"),
        ("http://[2002:a00:1::]/", "6to4 form of 10.0.0.1, a private address"),
        ("http://[fec0::1]/", "a site-local address"),
        ("http://192.0.0.8/", "an IETF protocol assignment"),
        ("http://2130706433/", "four decimal numbers"),
    ],
)
def test_addresses_that_once_got_through_are_refused_by_the_api(alice_client, url, reason, loopback_only):
    response = alice_client.post(
        "/api/notifications/endpoints", {"url": url}, content_type="application/json"
    )
    assert response.status_code == 422
    assert reason in response.json()["message"]
    assert not WebhookEndpoint.objects.exists()
    assert loopback_only == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("published", "quiet_heartbeat")
def test_name_that_moved_to_a_private_address_is_refused_at_delivery(alice, fake_dns, loopback_only):
    fake_dns({"hooks.example": ["93.184.216.34"]})
    endpoint = services.webhook_endpoint_create(owner=alice, url="https://hooks.example/in")
    # DNS now answers with the metadata service's address.
    fake_dns({"hooks.example": ["169.254.169.254"]})
    run_job(jobs.enqueue("diagnostics.noop", owner=alice))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    deliver = run_job(Job.objects.get(uuid=delivery.job_uuid))

    # Refused for good (no retry), and nothing was sent anywhere but the local database.
    assert deliver.status == Status.DEAD and deliver.attempts == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "Refused" in delivery.last_error and "169.254.169.254" in delivery.last_error
    assert not any(isinstance(a, tuple) and a[0] == "169.254.169.254" for a in loopback_only)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("published", "quiet_heartbeat")
def test_jobs_own_webhook_url_to_a_private_address_is_refused_at_submission(alice):
    with pytest.raises(JobInputError, match="private address"):
        jobs.enqueue("diagnostics.noop", owner=alice, webhook_url="http://10.0.0.5/hook")
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("published", "quiet_heartbeat")
def test_jobs_own_webhook_url_to_a_private_address_is_refused_at_delivery(alice, settings):
    # Accepted when submitted (as if its name pointed elsewhere then), refused when delivered.
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    job = jobs.enqueue("diagnostics.noop", owner=alice, webhook_url="http://10.0.0.5/hook")
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    run_job(job)
    delivery = WebhookDelivery.objects.get(endpoint__isnull=True)
    deliver = run_job(Job.objects.get(uuid=delivery.job_uuid))
    assert deliver.status == Status.DEAD
    assert "private address" in deliver.error


def test_socket_guard_fails_a_connection_outside_loopback():
    """The guard itself: a connection to 10.0.0.5 is stopped before it is attempted."""
    with pytest.raises(pytest.fail.Exception, match="only loopback"):
        socket.create_connection(("10.0.0.5", 80), timeout=0.1)


def test_allowed_private_networks_setting_lets_loopback_through(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    target = outbound.url_target("http://127.0.0.1:9/x?y=1")
    assert target.addresses == ("127.0.0.1",) and target.path == "/x?y=1"
