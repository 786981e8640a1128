"""The webhooks page's endpoint form is laid out like the site's other forms: a block per
field with its label, help and errors, the events as a fieldset of checkboxes."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def endpoint_form(page: str) -> str:
    return re.search(
        r'<form method="post" action="/notifications/webhooks/" class="stacked".*?</form>', page, re.S
    ).group(0)


def test_endpoint_form_has_a_block_per_field_not_django_paragraphs(alice_client):
    form = endpoint_form(alice_client.get(reverse("notifications:webhooks")).content.decode())

    assert "<p>" not in form
    labels = re.findall(r'<div class="form-field">\s*<label for="([^"]+)">', form)
    assert labels == ["id_url", "id_description"]
    fieldset = re.search(r'<fieldset class="form-field">.*?</fieldset>', form, re.S).group(0)
    assert "<legend>Events</legend>" in fieldset
    assert fieldset.count('type="checkbox"') >= 2
    assert '<small class="muted">None ticked: every event.</small>' in fieldset


def test_endpoint_form_error_shows_under_its_field(alice_client):
    response = alice_client.post(reverse("notifications:webhooks"), {"url": "not a url"})

    form = endpoint_form(response.content.decode())
    url_block = form.split('<label for="id_url">', 1)[1].split("</div>", 1)[0]
    assert '<span class="error">' in url_block
    assert 'class="errorlist"' not in form
