"""Forms of the job pages."""

from django import forms

from apps.jobs.models import Queue, Status
from apps.jobs.registry import kinds_all


def _kind_choices() -> list[tuple[str, str]]:
    # Read at call time: apps register their kinds when they are imported.
    return [("", "Any"), *((kind.name, kind.name) for kind in kinds_all())]


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *Status.choices])
    kind = forms.ChoiceField(label="Kind", required=False, choices=_kind_choices)
    queue = forms.ChoiceField(label="Queue", required=False, choices=[("", "Any"), *Queue.choices])
