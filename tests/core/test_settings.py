"""Production configuration: deploy checks pass, mistakes fail loudly, DEBUG-only tools stay out."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess:
    """Run manage.py in a clean environment: only what a production host would set."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(environ)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "tempo.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_PROXY_SSL_HEADER_ENABLED": "1",
    "EMAIL_URL": "smtp+tls://tempo:mail-password@mail.example.com:587",
}


def test_production_values_pass_the_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("email_url", ["consolemail://", "filemail:///tmp/tempo-mail", "memorymail://"])
def test_deploy_check_fails_when_mail_would_land_in_the_log(email_url):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, "EMAIL_URL": email_url})

    assert result.returncode != 0
    assert "core.W001" in result.stderr
    assert "password reset links end up in the web log" in result.stderr


def test_missing_secret_key_with_debug_off_is_one_line_naming_it():
    environ = {**PRODUCTION, "SECRET_KEY": ""}
    result = manage("check", **environ)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0]
    assert "Traceback" not in result.stderr


def test_debug_toolbar_is_absent_when_debug_is_off():
    # The suite runs with DEBUG=0, as production does.
    assert not settings.DEBUG
    assert "debug_toolbar" not in settings.INSTALLED_APPS
    assert not any("debug_toolbar" in middleware for middleware in settings.MIDDLEWARE)


def test_debug_toolbar_stays_out_of_production_even_when_asked_for():
    code = "import django; django.setup(); from django.conf import settings; print(settings.INSTALLED_APPS)"
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    env.update(PRODUCTION, DEBUG_TOOLBAR="1", DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "debug_toolbar" not in result.stdout
    assert "apps.core" in result.stdout
