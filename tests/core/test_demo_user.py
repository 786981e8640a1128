import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run() -> str:
    out = io.StringIO()
    call_command("ensure_demo_user", stdout=out)
    return out.getvalue()


def test_fresh_installation_gets_a_demo_superuser_whose_printed_password_works(client, alice):
    output = run()
    password = re.search(r"password: (\S+)", output).group(1)
    assert "username: demo" in output
    demo = get_user_model().objects.get(username="demo")
    assert demo.is_staff
    assert demo.is_superuser
    assert demo.check_password(password)
    assert client.login(username="demo", password=password)
    assert client.get("/admin/").status_code == 200


def test_each_fresh_installation_gets_a_different_password(django_user_model):
    first = re.search(r"password: (\S+)", run()).group(1)
    django_user_model.objects.all().delete()
    second = re.search(r"password: (\S+)", run()).group(1)
    assert first != second
    assert len(first) >= 16


def test_existing_staff_user_means_nothing_is_created(ops, django_user_model):
    output = run()
    assert "A staff user exists (ops)" in output
    assert "password" not in output
    assert not django_user_model.objects.filter(username="demo").exists()


def test_running_twice_creates_one_user(django_user_model):
    run()
    assert "A staff user exists (demo)" in run()
    assert django_user_model.objects.filter(username="demo").count() == 1


def test_an_ordinary_user_named_demo_is_not_promoted(django_user_model):
    django_user_model.objects.create_user("demo", password="whatever-it-is-1")
    with pytest.raises(CommandError, match="exists but is not active staff"):
        run()
    assert not django_user_model.objects.get(username="demo").is_staff
