"""The /jobs/ list: new jobs arrive at the top while it is open, whose jobs it shows, the
next pages as it scrolls, and submitting a job from it."""

import datetime
import enum
import html
import re
from typing import Literal

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from pydantic import BaseModel, Field

from apps.core.param_fields import param_field
from apps.jobs import runner, services
from apps.jobs.models import Job, Queue
from apps.jobs.views import JOBS_PER_PAGE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("jobs:list")
SUBMIT = reverse("jobs:submit")
runs_jobs = pytest.mark.django_db(transaction=True)


def sleep_job(owner, **params) -> Job:
    return services.enqueue("diagnostics.sleep", params={"seconds": 0, "steps": 4, **params}, owner=owner)


def poller(text: str) -> str:
    [element] = re.findall(r'<div id="jobs-poller"[^>]*>', text)
    return element


def live_ids(text: str) -> list[str]:
    """The ids the rows hand the poller (hx-include="#jobs-rows"), in page order."""
    return re.findall(r'<input type="hidden" name="ids" value="([0-9a-f-]{36})" class="job-live-id">', text)


def next_poll(text: str, ids: list[str]) -> tuple[str, str]:
    """The request htmx makes next: the poller's URL with the ids of the live rows, and its
    If-None-Match."""
    element = poller(text)
    url = html.unescape(re.search(r'hx-get="([^"]+)"', element).group(1))
    headers = html.unescape(re.search(r'hx-headers="([^"]+)"', element).group(1))
    etag = re.search(r'"If-None-Match": "(\\"[0-9a-f]+\\")"', headers).group(1).replace("\\", "")
    return url + "".join(f"&ids={job_id}" for job_id in ids), etag


def rows(text: str) -> list[str]:
    return re.findall(r'<tr id="job-([0-9a-f-]{36})">', text)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Polling: one request for the rows shown and for new jobs ------------------------


def test_list_polls_all_unfinished_jobs_in_one_request(alice_client, alice):
    queued = [sleep_job(alice), sleep_job(alice)]
    response = alice_client.get(LIST)
    assert 'hx-include="#jobs-rows"' in poller(response.text)
    assert 'hx-trigger="every 1s, jobs-submitted from:body"' in poller(response.text)
    assert live_ids(response.text) == [str(job.uuid) for job in reversed(queued)]


@runs_jobs
def test_newest_page_keeps_watching_for_new_jobs_after_every_job_ended(alice_client, alice):
    job = services.enqueue("diagnostics.noop", owner=alice)
    runner.execute(job.pk)
    response = alice_client.get(LIST)
    assert live_ids(response.text) == []
    assert 'hx-trigger="every 5s, jobs-submitted from:body"' in poller(response.text)
    assert "since=" in poller(response.text)


@runs_jobs
def test_older_page_with_nothing_unfinished_does_not_poll(alice_client, alice):
    for _ in range(JOBS_PER_PAGE + 1):
        runner.execute(services.enqueue("diagnostics.noop", owner=alice).pk)
    first = alice_client.get(LIST)
    older = re.search(r'<a href="([^"]+)" rel="next"', first.text).group(1)
    response = alice_client.get(LIST + html.unescape(older))
    assert len(rows(response.text)) == 1
    assert poller(response.text) == '<div id="jobs-poller">'


def test_page_tag_matches_the_first_poll(alice_client, alice, django_assert_max_num_queries):
    """An unchanged list costs a bodyless 304 per poll."""
    sleep_job(alice)
    sleep_job(alice)
    page = alice_client.get(LIST)
    url, etag = next_poll(page.text, live_ids(page.text))
    # session, user, the rows shown, the jobs newer than the newest shown
    with django_assert_max_num_queries(4):
        response = alice_client.get(url, HTTP_IF_NONE_MATCH=etag, **HTMX)
    assert response.status_code == 304
    assert response.content == b""


def test_poll_brings_a_job_created_after_the_page_loaded(alice_client, alice, django_assert_max_num_queries):
    shown = sleep_job(alice)
    page = alice_client.get(LIST)
    url, etag = next_poll(page.text, live_ids(page.text))

    created = sleep_job(alice)
    with django_assert_max_num_queries(4):
        response = alice_client.get(url, HTTP_IF_NONE_MATCH=etag, **HTMX)

    assert response.status_code == 200
    added = re.search(
        r'<template><tbody hx-swap-oob="afterbegin:#jobs-rows">(.*?)</tbody></template>', response.text, re.S
    )
    assert rows(added.group(1)) == [str(created.uuid)]
    # The row shown before is updated in place, not added again.
    assert f'<td id="job-{shown.uuid}-status" hx-swap-oob="true">' in response.text
    assert rows(response.text) == [str(created.uuid)]

    # The next poll looks past the new job, for what it shows now: unchanged, a 304.
    url, etag = next_poll(response.text, [str(created.uuid), str(shown.uuid)])
    again = alice_client.get(url, HTTP_IF_NONE_MATCH=etag, **HTMX)
    assert again.status_code == 304


def test_empty_list_gets_its_first_job(alice_client, alice):
    page = alice_client.get(LIST)
    assert '<p id="jobs-empty" class="muted">No jobs.</p>' in page.text
    assert '<tbody id="jobs-rows">' in page.text
    url, etag = next_poll(page.text, [])
    job = sleep_job(alice)
    response = alice_client.get(url, HTTP_IF_NONE_MATCH=etag, **HTMX)
    assert rows(response.text) == [str(job.uuid)]
    assert '<p id="jobs-empty" hx-swap-oob="delete"></p>' in response.text


def test_a_burst_of_new_jobs_arrives_in_order_over_several_polls(alice_client, alice):
    page = alice_client.get(LIST)
    url, _ = next_poll(page.text, [])
    burst = [sleep_job(alice) for _ in range(JOBS_PER_PAGE + 3)]
    first = alice_client.get(url, **HTMX)
    # The oldest of the new jobs first, newest on top, so that no job is skipped.
    assert rows(first.text) == [str(job.uuid) for job in reversed(burst[:JOBS_PER_PAGE])]
    assert 'hx-trigger="every 1s' in poller(first.text)
    url, _ = next_poll(first.text, [])
    second = alice_client.get(url, **HTMX)
    assert rows(second.text) == [str(job.uuid) for job in reversed(burst[JOBS_PER_PAGE:])]


def test_poll_brings_only_new_jobs_the_filters_match(alice_client, alice):
    sleep_job(alice)
    page = alice_client.get(LIST, {"kind": "diagnostics.noop"})
    assert "kind=diagnostics.noop" in poller(page.text)
    url, _ = next_poll(page.text, [])
    sleep_job(alice)
    noop = services.enqueue("diagnostics.noop", owner=alice)
    response = alice_client.get(url, **HTMX)
    assert rows(response.text) == [str(noop.uuid)]


def test_poll_never_brings_another_users_jobs(client, alice, bob):
    client.force_login(bob)
    page = client.get(LIST)
    url, _ = next_poll(page.text, [])
    theirs = sleep_job(alice)
    response = client.get(url + f"&ids={theirs.uuid}", **HTMX)
    assert str(theirs.uuid) not in response.text


def test_poll_with_damaged_filters_is_refused(alice_client, alice):
    response = alice_client.get(reverse("jobs:poll"), {"status": "sleeping"}, **HTMX)
    assert response.status_code == 400


# --- Whose jobs: Mine / Everyone / System ----------------------------------------------


@pytest.fixture
def everyones_jobs(alice, ops):
    return {
        "alice": sleep_job(alice),
        "ops": sleep_job(ops),
        "schedule": services.enqueue("jobs.prune"),
        "ops_on_system_queue": services.enqueue("diagnostics.noop", owner=ops, queue=Queue.SYSTEM),
    }


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({}, {"alice", "ops"}),
        ({"scope": "everyone"}, {"alice", "ops"}),
        ({"scope": "mine"}, {"ops", "ops_on_system_queue"}),
        ({"scope": "system"}, {"schedule", "ops_on_system_queue"}),
    ],
)
def test_staff_choose_whose_jobs_by_default_every_users(ops_client, everyones_jobs, scope, expected):
    response = ops_client.get(LIST, scope)
    shown = {name for name, job in everyones_jobs.items() if str(job.uuid) in response.text}
    assert shown == expected
    # The select says which, also when the request named none.
    assert f'<option value="{scope.get("scope", "everyone")}" selected>' in response.text


@pytest.mark.parametrize("scope", ["", "mine"])
def test_users_see_their_own_jobs_without_a_scope_to_choose(client, bob, everyones_jobs, scope):
    mine = sleep_job(bob)
    client.force_login(bob)
    response = client.get(LIST, {"scope": scope})
    assert rows(response.text) == [str(mine.uuid)]
    assert 'name="scope"' not in response.text


@pytest.mark.parametrize("scope", ["everyone", "system"])
def test_everyone_and_system_are_staff_only(client, bob, everyones_jobs, scope):
    sleep_job(bob)
    client.force_login(bob)
    response = client.get(LIST, {"scope": scope})
    assert "Only staff see other people&#x27;s jobs" in response.text
    assert rows(response.text) == []
    poll = client.get(reverse("jobs:poll"), {"scope": scope, "since": "x"}, **HTMX)
    assert poll.status_code == 400


def test_scope_survives_polling_and_paging(ops_client):
    for _ in range(JOBS_PER_PAGE + 1):
        services.enqueue("jobs.prune")
    response = ops_client.get(LIST, {"scope": "system"})
    assert "scope=system" in poller(response.text)
    older = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', response.text).group(1))
    assert "scope=system" in older
    assert 'action="/jobs/submit?scope=system"' in response.text


# --- Endless scroll ---------------------------------------------------------------------


def test_list_scrolls_endlessly_with_older_link_kept(alice_client, alice, django_assert_max_num_queries):
    jobs = [sleep_job(alice) for _ in range(JOBS_PER_PAGE * 2 + 1)]
    newest_first = [str(job.uuid) for job in reversed(jobs)]
    page = alice_client.get(LIST)
    sentinel = re.search(r'<a href="([^"]+)" rel="next" hx-get="([^"]+)" hx-trigger="revealed"', page.text)
    assert sentinel, "the last row fetches the next page when it is revealed"
    assert html.unescape(sentinel.group(2)) == LIST + html.unescape(sentinel.group(1))

    # session, user, one page of jobs
    with django_assert_max_num_queries(3):
        more = alice_client.get(html.unescape(sentinel.group(2)), **HTMX)
    assert "<html" not in more.text
    assert "HX-Request" in more["Vary"]
    assert rows(more.text) == newest_first[JOBS_PER_PAGE : JOBS_PER_PAGE * 2]
    # Its unfinished rows join the page's poll.
    assert live_ids(more.text) == newest_first[JOBS_PER_PAGE : JOBS_PER_PAGE * 2]
    last = re.search(r'hx-get="([^"]+)" hx-trigger="revealed"', more.text).group(1)
    end = alice_client.get(html.unescape(last), **HTMX)
    assert rows(end.text) == newest_first[JOBS_PER_PAGE * 2 :]
    assert "revealed" not in end.text


def test_a_next_page_needs_a_cursor(alice_client, alice):
    assert alice_client.get(LIST, **HTMX).status_code == 400
    assert alice_client.get(LIST, {"after": "damaged"}, **HTMX).status_code == 400


# --- Submitting a job from the page ------------------------------------------------------


def test_user_submits_a_job_and_comes_back_to_the_list(alice_client, alice):
    response = alice_client.post(
        SUBMIT + "?status=queued",
        {
            "submit-kind": "diagnostics.sleep",
            "submit-shown": "diagnostics.sleep",
            "submit-param_seconds": "2",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == LIST + "?status=queued"
    job = Job.objects.get()
    assert (job.kind, job.owner, job.params) == ("diagnostics.sleep", alice, {"seconds": 2.0, "steps": 10})
    assert messages_of(response) == [f"Submitted diagnostics.sleep (job {str(job.uuid)[:8]})."]
    assert str(job.uuid) in alice_client.get(response["Location"]).text


def test_htmx_submit_answers_a_fresh_form_and_tells_the_poller(alice_client, alice):
    response = alice_client.post(
        SUBMIT, {"submit-kind": "diagnostics.noop", "submit-shown": "diagnostics.noop"}, **HTMX
    )
    job = Job.objects.get()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "jobs-submitted"
    assert response.text.lstrip().startswith("{#") or response.text.lstrip().startswith("<form")
    assert f'href="/jobs/{job.uuid}/">diagnostics.noop</a>' in response.text


def test_form_offers_public_kinds_to_users_and_every_kind_to_staff(client, alice, ops):
    client.force_login(alice)
    offered = re.findall(
        r'<option value="([^"]+)"', client.get(LIST).text.split('id="job-submit-form"')[1].split("</form>")[0]
    )
    assert "diagnostics.sleep" in offered
    assert "diagnostics.hang" not in offered
    assert "jobs.prune" not in offered
    client.force_login(ops)
    offered = re.findall(
        r'<option value="([^"]+)"', client.get(LIST).text.split('id="job-submit-form"')[1].split("</form>")[0]
    )
    assert {"diagnostics.hang", "jobs.prune", "diagnostics.sleep"} <= set(offered)


def test_kind_fields_come_from_its_parameters_within_the_users_bounds(client, alice, ops):
    for user, most in ((alice, "60"), (ops, "3600")):
        client.force_login(user)
        response = client.get(SUBMIT, {"submit-kind": "diagnostics.sleep"}, **HTMX)
        assert "<html" not in response.text
        seconds = re.search(r'<input type="number" name="submit-param_seconds"[^>]*>', response.text).group(0)
        assert f'max="{most}"' in seconds
        assert 'value="5.0"' in seconds
        assert "Total time to sleep." in response.text


def test_choosing_another_kind_without_javascript_shows_its_parameters_first(alice_client, alice):
    response = alice_client.post(SUBMIT, {"submit-kind": "diagnostics.fail", "submit-shown": ""})
    assert response.status_code == 200
    assert not Job.objects.exists()
    assert 'name="submit-param_times"' in response.text
    assert '<details class="job-submit-panel" open>' in response.text


def test_invalid_parameter_shows_next_to_its_field(alice_client, alice):
    response = alice_client.post(
        SUBMIT,
        {
            "submit-kind": "diagnostics.sleep",
            "submit-shown": "diagnostics.sleep",
            "submit-param_seconds": "600",
        },
    )
    assert response.status_code == 422
    assert not Job.objects.exists()
    field = response.text.split('name="submit-param_seconds"')[1].split("</label>")[0]
    assert "less than or equal to 60" in field


def test_user_cannot_submit_a_staff_only_kind(alice_client, alice):
    response = alice_client.post(
        SUBMIT, {"submit-kind": "diagnostics.hang", "submit-shown": "diagnostics.hang"}
    )
    assert response.status_code == 422
    assert "Select a valid choice" in response.text
    assert not Job.objects.exists()


def test_quota_is_a_form_error_with_the_limit(alice_client, alice, settings):
    settings.JOBS_USER_MAX_ACTIVE = 1
    sleep_job(alice)
    response = alice_client.post(
        SUBMIT, {"submit-kind": "diagnostics.noop", "submit-shown": "diagnostics.noop"}
    )
    assert response.status_code == 422
    assert "You have 1 jobs waiting or running; the limit is 1 at a time" in response.text
    assert Job.objects.count() == 1


def test_a_kinds_own_submit_service_refusal_is_a_form_error(alice_client, alice):
    """reports.generate: its request (report, params as JSON, format) is the reports app's."""
    data = {
        "submit-kind": "reports.generate",
        "submit-shown": "reports.generate",
        "submit-param_format": "csv",
    }
    response = alice_client.post(SUBMIT, {**data, "submit-param_report": "nope", "submit-param_params": "{"})
    assert response.status_code == 422
    assert "Not valid JSON" in response.text

    response = alice_client.post(SUBMIT, {**data, "submit-param_report": "nope", "submit-param_params": "{}"})
    assert response.status_code == 422
    assert "nope" in response.text
    assert not Job.objects.exists()


def test_submit_needs_csrf_and_login(client, alice):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    data = {"submit-kind": "diagnostics.noop", "submit-shown": "diagnostics.noop"}
    assert strict.post(SUBMIT, data).status_code == 403
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', strict.get(LIST).text).group(1)
    assert strict.post(SUBMIT, {**data, "csrfmiddlewaretoken": token}).status_code == 302
    assert client.post(SUBMIT, data)["Location"].startswith(reverse("login"))
    assert Job.objects.count() == 1


# --- Parameter fields from a kind's model --------------------------------------------------


class Colour(enum.Enum):
    DARK_RED = "dark-red"
    BLUE = "blue"


class Nested(BaseModel):
    name: str


class EveryType(BaseModel):
    count: int = Field(default=3, ge=1, le=9)
    ratio: float = Field(default=0.5, ge=0)
    label: str = Field(max_length=12, description="Shown in lists.")
    loud: bool = False
    colour: Colour = Colour.BLUE
    size: Literal[1, 2, 3] = 2
    day: datetime.date | None = None
    extra: Nested | None = None
    tags: list[str] = Field(default_factory=list)


def test_parameter_fields_follow_the_models_types_and_bounds():
    fields = {name: param_field(name, info) for name, info in EveryType.model_fields.items()}
    assert isinstance(fields["count"], forms.IntegerField)
    assert (fields["count"].min_value, fields["count"].max_value, fields["count"].initial) == (1, 9, 3)
    assert isinstance(fields["ratio"], forms.FloatField) and fields["ratio"].min_value == 0
    assert isinstance(fields["label"], forms.CharField) and fields["label"].max_length == 12
    assert fields["label"].required and fields["label"].help_text == "Shown in lists."
    assert isinstance(fields["loud"], forms.BooleanField) and not fields["loud"].required
    assert fields["colour"].choices == [("dark-red", "DARK RED"), ("blue", "BLUE")]
    assert fields["colour"].initial == "blue"
    # Declared values come back as declared: the Literal's ints stay ints.
    assert fields["size"].clean("3") == 3
    assert isinstance(fields["day"], forms.DateField) and not fields["day"].required
    for name in ("extra", "tags"):
        assert isinstance(fields[name].widget, forms.Textarea)
    assert fields["extra"].clean('{"name": "x"}') == {"name": "x"}
    with pytest.raises(forms.ValidationError, match="Not valid JSON"):
        fields["tags"].clean("[1,")
