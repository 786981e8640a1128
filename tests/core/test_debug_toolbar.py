"""The debug toolbar of a local run (DEBUG on) starts collapsed to its handle."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A page rendered by a process of its own with DEBUG on: the suite runs with it off, and
# the toolbar is installed only at settings time.
RENDER_LOGIN_PAGE = """
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
response = Client().get("/accounts/login/")
print(response.status_code)
print(response.content.decode())
"""


def test_debug_toolbar_starts_collapsed_so_it_covers_nothing(tmp_path):
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(
        DEBUG="1",
        DEBUG_TOOLBAR="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="",
    )
    result = subprocess.run(
        [sys.executable, "-c", RENDER_LOGIN_PAGE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    status, _, page = result.stdout.partition("\n")
    assert status == "200"
    assert 'id="djDebug"' in page
    assert 'data-default-show="false"' in page
