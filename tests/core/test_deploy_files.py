"""What the deploy files name must exist: probe paths, manage.py commands, environment variables.

A renamed URL, command or setting breaks a deployment silently (a probe that always
fails, a worker that never starts, a variable nobody reads): these tests read the files
in deploy/ and compare them with the URL resolver, the command list and the variables
that config/settings.py and config/gunicorn.conf.py read.
"""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import Resolver404, resolve

BASE = Path(settings.BASE_DIR)
DEPLOY = BASE / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))
APP_IMAGE = "tempo:latest"

# Read by the libraries and tools rather than by our settings.
READ_ELSEWHERE = {
    "Q_CLUSTER_NAME",  # django-q2 picks the cluster of ALT_CLUSTERS by it
    "PATH",
    "PIP_NO_CACHE_DIR",  # pip, in the image's build stage
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
}


def read_by_the_project() -> set[str]:
    """Environment variables named in config/settings.py and config/gunicorn.conf.py."""
    names: set[str] = set()
    for path in (BASE / "config" / "settings.py", BASE / "config" / "gunicorn.conf.py"):
        source = path.read_text()
        names |= set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
        names |= set(re.findall(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))
    return names


def k8s_documents() -> list[dict]:
    return [doc for path in K8S for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_containers() -> list[dict]:
    containers = []
    for doc in k8s_documents():
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        containers += pod.get("containers", [])
    return containers


def compose_app_services() -> dict[str, dict]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: service for name, service in services.items() if service.get("image") == APP_IMAGE}


def manage_commands(command: list[str]) -> list[str]:
    """``["python", "manage.py", "qcluster"]`` -> ``["qcluster"]``."""
    return [command[index + 1] for index, word in enumerate(command[:-1]) if word.endswith("manage.py")]


def named_paths() -> set[str]:
    paths: set[str] = set()
    for container in k8s_containers():
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in container:
                paths.add(container[probe]["httpGet"]["path"])
    for service in compose_app_services().values():
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        paths |= set(re.findall(r"http://127\.0\.0\.1:\d+(/[\w/-]*)", test))
    paths |= set(re.findall(r"http://127\.0\.0\.1:\d+(/[\w/-]*)", (DEPLOY / "Dockerfile").read_text()))
    paths |= set(re.findall(r"location = (/[\w/-]*)", (DEPLOY / "nginx.conf").read_text()))
    return paths


def named_variables() -> set[str]:
    names: set[str] = set()
    for service in compose_app_services().values():
        names |= set(service.get("environment", {}))
    for doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])
    for container in k8s_containers():
        names |= {item["name"] for item in container.get("env", [])}
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", dockerfile, flags=re.MULTILINE):
        names |= set(re.findall(r"([A-Z][A-Z0-9_]*)=", block))
    # PgBouncer's notes list the variables Django needs behind it.
    names |= set(re.findall(r"^;\s+([A-Z][A-Z0-9_]*)=", (DEPLOY / "pgbouncer.ini").read_text(), re.MULTILINE))
    return names


def test_the_deploy_files_are_found():
    assert COMPOSE.exists() and K8S and (DEPLOY / "Dockerfile").exists()
    # Sanity of the parsers: they find what is surely there.
    assert {"/healthz", "/readyz"} <= named_paths()
    assert {"DATABASE_URL", "REDIS_URL", "Q_CLUSTER_NAME"} <= named_variables()


@pytest.mark.parametrize("path", sorted(named_paths()))
def test_every_probe_path_is_a_url_of_the_project(path):
    try:
        resolve(path)
    except Resolver404:
        pytest.fail(f"{path} is named in deploy/ but no URL of the project answers it")


def test_every_manage_py_command_exists():
    commands = set(get_commands())
    named = set()
    for container in k8s_containers():
        named |= set(manage_commands(container.get("command", [])))
    for service in compose_app_services().values():
        named |= set(manage_commands(service.get("command", [])))
    assert {"qcluster", "jobs_dispatcher", "migrate", "warm_cache"} <= named
    assert named - commands == set()


def test_every_environment_variable_is_read_by_the_project():
    unknown = named_variables() - read_by_the_project() - READ_ELSEWHERE
    assert unknown == set(), f"named in deploy/ but read nowhere: {sorted(unknown)}"


def test_every_queue_has_a_worker_and_a_scaler_on_its_redis_list():
    queues = {"default", *settings.Q_CLUSTER["ALT_CLUSTERS"]}
    compose_queues = {
        service["environment"]["Q_CLUSTER_NAME"]
        for service in compose_app_services().values()
        if "Q_CLUSTER_NAME" in service.get("environment", {})
    }
    assert compose_queues == queues
    lists = {
        trigger["metadata"]["listName"]
        for doc in k8s_documents()
        if doc["kind"] == "ScaledObject"
        for trigger in doc["spec"]["triggers"]
    }
    # django-q2's Redis broker pushes the messages of cluster <name> to django_q:<name>:q.
    assert lists == {f"django_q:{queue}:q" for queue in queues}


def test_the_procfile_starts_a_worker_for_every_queue():
    queues = {"default", *settings.Q_CLUSTER["ALT_CLUSTERS"]}
    procfile = (BASE / "Procfile").read_text()
    started = set(re.findall(r"Q_CLUSTER_NAME=(\w+) \S+ manage\.py qcluster", procfile))
    assert started == queues
