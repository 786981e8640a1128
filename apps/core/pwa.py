"""The installable-site pieces: the service worker's precache list and version, the web app
manifest, and the Cache-Control whitenoise gives static files.

The worker (templates/core/service_worker.js) precaches the hashed names collectstatic gave
this deploy's own static files (and htmx): a deploy that changes one of them changes the
list, hence the worker's bytes and its cache name, and browsers install the new worker.
"""

import hashlib
import json
from functools import cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.contrib.staticfiles.utils import get_files
from django.urls import reverse

# htmx comes from django-htmx's static folder; every live page uses this one file.
THIRD_PARTY_PRECACHE = ("django_htmx/htmx-2.min.js",)
# The icon every page links; the manifest lists the others.
ICON = "icons/tempo.svg"
PNG_ICONS = {192: "icons/tempo-192.png", 512: "icons/tempo-512.png"}
THEME_COLOR = "#2f6fed"
BACKGROUND_COLOR = "#ffffff"
# Static files are immutable under a hashed name for this long; whitenoise's own is ten years.
IMMUTABLE_MAX_AGE = 365 * 24 * 60 * 60


def static_file_headers(headers, path: str, url: str) -> None:
    """whitenoise's add-headers hook: a hashed name is cached for one year, immutable (the
    unhashed names keep WHITENOISE_MAX_AGE, short, so a page linking one sees a deploy).

    Hashed means named so in collectstatic's manifest: whitenoise's own test takes the hash
    for the extension of a name without one (the admin's LICENSE files) and misses them.
    """
    name = url.removeprefix(staticfiles_storage.base_url)
    hashed = getattr(staticfiles_storage, "hashed_files", {})
    if name in hashed.values() or headers.get("Cache-Control", "").endswith("immutable"):
        headers["Cache-Control"] = f"max-age={IMMUTABLE_MAX_AGE}, public, immutable"


def _own_static_names() -> list[str]:
    """Static files of this project (static/ and the apps' static folders), not of the
    packages it installs (the admin's, Silk's): those are cached when first used."""
    names = set(THIRD_PARTY_PRECACHE)
    for finder in finders.get_finders():
        storages = getattr(finder, "storages", {})
        for key, storage in storages.items():
            # FileSystemFinder keys its storages by folder, AppDirectoriesFinder by app name.
            own = str(key).startswith(("apps.", str(settings.BASE_DIR / "static")))
            if own:
                names.update(get_files(storage, ignore_patterns=["*.map"]))
    return sorted(names)


@cache
def precache_urls() -> tuple[str, ...]:
    """The URLs of this deploy's hashed static files the worker stores at install.

    Empty without the manifest storage (DEBUG): unhashed names change content under the
    same URL, and a cache-first worker would serve stale files while one edits them.
    """
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return ()
    # A file added since collectstatic ran has no hashed name yet: it is left out, not a 500.
    hashed = staticfiles_storage.hashed_files
    return tuple(staticfiles_storage.url(name) for name in _own_static_names() if name in hashed)


def worker_version(urls: tuple[str, ...]) -> str:
    """Names the worker's cache: changes exactly when the precache list does."""
    return hashlib.sha256("\n".join(urls).encode()).hexdigest()[:12]


def worker_config() -> str:
    """The constants the worker starts with, as JavaScript (JSON is valid JavaScript)."""
    urls = precache_urls()
    config = {
        "version": worker_version(urls),
        "precache": list(urls),
        "offline": reverse("offline"),
        "static": staticfiles_storage.base_url,
        # The JSON API (config/urls.py mounts it here) and the worker itself: never cached.
        "never": ["/api/", reverse("service_worker")],
    }
    return json.dumps(config, indent=2)


def web_manifest() -> dict:
    """The web app manifest: the name, icons and colours an installed Tempo shows."""
    icons = [{"src": staticfiles_storage.url(ICON), "sizes": "any", "type": "image/svg+xml"}]
    icons += [
        {"src": staticfiles_storage.url(name), "sizes": f"{size}x{size}", "type": "image/png"}
        for size, name in PNG_ICONS.items()
    ]
    return {
        "name": "Tempo",
        "short_name": "Tempo",
        "description": "Orders, background jobs, reports and their performance.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": icons,
    }


def manifest_etag(*_args) -> str:
    """One ETag for the manifest's body: it changes only when the static files do."""
    return worker_version(precache_urls())
