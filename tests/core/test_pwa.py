"""Static files' cache lifetimes, the favicon, the web app manifest, the service worker and
the offline page, as a browser fetches them (tests/browser/test_service_worker.py runs the
worker itself in chromium)."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import Client
from django.urls import reverse

from apps.core import pwa

pytestmark = pytest.mark.django_db

ONE_YEAR_IMMUTABLE = "max-age=31536000, public, immutable"
HASHED_URL = re.compile(r"^/static/.+\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
# Worth compressing: text formats above whitenoise's "not worth it" size.
COMPRESSIBLE = (".css", ".js", ".svg", ".json", ".txt", ".html")


@pytest.fixture(scope="module")
def manifest_paths() -> dict[str, str]:
    """Original name -> hashed name, as collectstatic wrote them (tests/conftest.py runs it)."""
    return json.loads((Path(settings.STATIC_ROOT) / "staticfiles.json").read_text())["paths"]


@pytest.fixture
def fresh_precache():
    pwa.precache_urls.cache_clear()
    yield
    pwa.precache_urls.cache_clear()


def worker_config(response) -> dict:
    body = response.content.decode()
    return json.loads(re.search(r"^const CONFIG = (\{.*?\n\});$", body, re.S | re.M).group(1))


# --- Static files ------------------------------------------------------------------------


def test_every_hashed_static_file_is_immutable_for_a_year_htmx_and_the_admin_included(client, manifest_paths):
    for folder in ("django_htmx/", "admin/", "css/", "js/", "icons/", "notifications/"):
        assert any(name.startswith(folder) for name in manifest_paths), folder
    for hashed in manifest_paths.values():
        response = client.get(settings.STATIC_URL + hashed)
        assert response.status_code == 200, hashed
        assert response["Cache-Control"] == ONE_YEAR_IMMUTABLE, hashed


def test_text_static_files_are_served_compressed_under_their_hashed_name(client, manifest_paths):
    checked = 0
    for name, hashed in manifest_paths.items():
        source = Path(settings.STATIC_ROOT) / name
        if not name.endswith(COMPRESSIBLE) or source.stat().st_size < 1024:
            continue
        response = client.get(settings.STATIC_URL + hashed, headers={"Accept-Encoding": "gzip"})
        assert response["Content-Encoding"] == "gzip", hashed
        assert response["Cache-Control"] == ONE_YEAR_IMMUTABLE, hashed
        checked += 1
    assert checked > 50


def test_unhashed_static_names_are_never_immutable_and_revalidate_within_a_minute(client, manifest_paths):
    for name in manifest_paths:
        response = client.get(settings.STATIC_URL + name)
        assert response.status_code == 200, name
        assert "immutable" not in response["Cache-Control"], name
        assert response["Cache-Control"] == "max-age=60, public", name


# --- Favicon and web app manifest --------------------------------------------------------


def test_favicon_ico_redirects_to_the_hashed_svg_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert HASHED_URL.match(response["Location"])
    assert response["Location"] == staticfiles_storage.url(pwa.ICON)
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)


def test_web_app_manifest_names_the_app_and_its_icons(client):
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "Tempo"
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == pwa.THEME_COLOR
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"any", "192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert HASHED_URL.match(icon["src"]), icon
        served = client.get(icon["src"])
        assert served.status_code == 200, icon
        assert served["Content-Type"] == icon["type"], icon


def test_web_app_manifest_answers_304_while_unchanged(client):
    first = client.get("/manifest.webmanifest")

    again = client.get("/manifest.webmanifest", headers={"If-None-Match": first["ETag"]})

    assert "no-cache" in first["Cache-Control"]
    assert again.status_code == 304


# --- Service worker ----------------------------------------------------------------------


def test_service_worker_is_javascript_from_the_site_root_revalidated_each_time(client):
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert client.get("/sw.js", headers={"If-None-Match": response["ETag"]}).status_code == 304
    # At the root, its default scope is the whole site: no Service-Worker-Allowed needed.
    assert reverse("service_worker") == "/sw.js"
    assert "Service-Worker-Allowed" not in response


def test_service_worker_precaches_the_hashed_names_of_our_static_files_and_htmx(client, manifest_paths):
    config = worker_config(client.get("/sw.js"))

    precache = config["precache"]
    assert precache
    for url in precache:
        assert HASHED_URL.match(url), url
        assert client.get(url)["Cache-Control"] == ONE_YEAR_IMMUTABLE, url
    ours = ("css/tempo.css", "js/browser-metrics.js", "notifications/bell.js", "django_htmx/htmx-2.min.js")
    for name in ours:
        assert settings.STATIC_URL + manifest_paths[name] in precache, name
    # The packages' own files (the admin's, Silk's) are stored when first used, not at install.
    assert not [url for url in precache if url.startswith(("/static/admin/", "/static/silk/"))]
    assert config["offline"] == "/offline/"


def test_service_worker_never_caches_the_api_nor_itself(client):
    config = worker_config(client.get("/sw.js"))

    assert not [url for url in config["precache"] if "/api/" in url]
    assert config["never"] == ["/api/", "/sw.js"]


def test_service_worker_cache_name_changes_with_the_static_files():
    one = ("/static/css/tempo.0123456789ab.css",)
    other = ("/static/css/tempo.ba9876543210.css",)

    assert pwa.worker_version(one) == pwa.worker_version(one)
    assert pwa.worker_version(one) != pwa.worker_version(other)


def test_without_hashed_names_the_service_worker_precaches_no_static_file(client, settings, fresh_precache):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    config = worker_config(client.get("/sw.js"))

    assert config["precache"] == []
    assert config["offline"] == "/offline/"


def test_service_worker_refuses_writes(client):
    assert client.post("/sw.js").status_code == 405
    assert client.post("/manifest.webmanifest").status_code == 405


def test_policy_lets_the_site_start_its_own_workers_only(client):
    policy = client.get("/sw.js")["Content-Security-Policy"]

    assert "worker-src 'self'" in policy
    assert "connect-src 'self'" in policy


# --- Offline page and the pages' head ----------------------------------------------------


def test_offline_page_needs_no_login_session_or_database(django_assert_num_queries):
    client = Client()

    with django_assert_num_queries(0):
        response = client.get("/offline/")

    assert response.status_code == 200
    assert b"You are offline" in response.content
    assert staticfiles_storage.url("css/tempo.css").encode() in response.content
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies


def test_offline_page_shows_nobody_s_name_to_a_logged_in_user(alice_client):
    response = alice_client.get("/offline/")

    assert response.status_code == 200
    assert b"alice" not in response.content
    assert b"Log out" not in response.content


def test_pages_link_the_icon_the_manifest_and_register_the_worker_under_the_nonce(alice_client):
    response = alice_client.get("/")
    html = response.content.decode()

    assert f'<link rel="icon" href="{staticfiles_storage.url(pwa.ICON)}"' in html
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    script = re.search(r'<script type="module" nonce="([^"]+)">(.*?)</script>', html, re.S)
    assert script.group(1) == nonce
    assert 'navigator.serviceWorker.register("/sw.js"' in script.group(2)


# --- Page scripts ------------------------------------------------------------------------

MAIN_PAGES = ["/", "/orders/", "/jobs/", "/reports/", "/reports/runs/", "/notifications/"]


def test_main_pages_block_on_no_script(alice_client):
    for path in MAIN_PAGES:
        html = alice_client.get(path).content.decode()
        scripts = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "application/json" not in tag]
        assert scripts, path
        for tag in scripts:
            assert " defer" in tag or 'type="module"' in tag, (path, tag)
