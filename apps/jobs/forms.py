"""Forms of the job pages: the list's filters, and submitting a job of a kind.

The submit form's parameter fields are generated from the kind's parameter model (what
``kind.params_for`` gives the user): the model stays the one authority, the form only
offers fitting widgets and reads what was typed into values, then validates them with
the model so that its problems show next to their fields. ``services.enqueue`` checks
them once more, with the quotas, as it does for the API.
"""

import typing
from urllib.parse import urlencode

import pydantic
from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse

from apps.core.param_fields import param_field
from apps.jobs.models import Queue, Status
from apps.jobs.registry import kinds_all, kinds_submittable
from apps.jobs.selectors import JobScope

# Parameter fields are named apart from the form's own ("kind", "shown").
PARAM_PREFIX = "param_"


def _kind_choices() -> list[tuple[str, str]]:
    # Read at call time: apps register their kinds when they are imported.
    return [("", "Any"), *((kind.name, kind.name) for kind in kinds_all())]


class JobFilterForm(forms.Form):
    """Which jobs a list shows. Staff choose whose (default: every user's, because the
    system's scheduled jobs would otherwise fill the first page every few minutes);
    users always see their own."""

    scope = forms.ChoiceField(label="Whose", required=False, choices=JobScope.choices)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any"), *Status.choices])
    kind = forms.ChoiceField(label="Kind", required=False, choices=_kind_choices)
    queue = forms.ChoiceField(label="Queue", required=False, choices=[("", "Any"), *Queue.choices])

    def __init__(self, data: typing.Any, *, user: AbstractBaseUser) -> None:
        # What the request said, for the list's own links.
        self.given = data
        if not data.get("scope"):
            # The select shows the scope the list has without one.
            data = data.copy()
            data["scope"] = JobScope.EVERYONE if user.is_staff else JobScope.MINE
        super().__init__(data)
        self.staff = user.is_staff

    def clean_scope(self) -> str:
        scope = self.cleaned_data["scope"]
        if not self.staff:
            if scope not in ("", JobScope.MINE):
                raise forms.ValidationError("Only staff see other people's jobs; this list shows yours.")
            return JobScope.MINE
        return scope or JobScope.EVERYONE

    @property
    def selection(self) -> dict[str, str | None]:
        """The valid filters as the selectors take them."""
        return {name: self.cleaned_data[name] or None for name in self.fields}

    @property
    def query(self) -> str:
        """The filters, as a query string for the list's own links (poll, submit)."""
        return urlencode({name: self.given[name] for name in self.fields if self.given.get(name)})


# --- Submitting a job ---------------------------------------------------------------------


class JobSubmitForm(forms.Form):
    """A kind, and the parameters of that kind.

    Without JavaScript, choosing another kind and submitting shows that kind's parameters
    first (``needs_params``): ``shown`` says whose parameter fields the page showed.
    """

    kind = forms.ChoiceField(label="Kind")
    shown = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(
        self, data: typing.Any = None, *, user: AbstractBaseUser, kind: str = "", query: str = ""
    ) -> None:
        """``query``: the list's filters, kept through the submit (the form's action)."""
        super().__init__(data, prefix="submit")
        self.action = reverse("jobs:submit") + (f"?{query}" if query else "")
        allowed = {job_kind.name: job_kind for job_kind in kinds_submittable(staff=user.is_staff)}
        self.fields["kind"].choices = [("", "Choose a kind…"), *((name, name) for name in allowed)]
        # With htmx, choosing a kind brings its parameter fields at once.
        self.fields["kind"].widget.attrs.update(
            {
                "hx-get": self.action,
                "hx-trigger": "change",
                "hx-target": "#job-submit-form",
                "hx-swap": "outerHTML",
            }
        )
        chosen = self.data.get(self.add_prefix("kind"), "") if self.is_bound else kind
        self.job_kind = allowed.get(chosen)
        self.model: type[pydantic.BaseModel] | None = None
        if self.job_kind is not None:
            self.model = self.job_kind.params_for(staff=user.is_staff)
            for name, info in self.model.model_fields.items():
                self.fields[PARAM_PREFIX + name] = param_field(name, info)
            self.initial = {"kind": self.job_kind.name, "shown": self.job_kind.name}

    @property
    def needs_params(self) -> bool:
        """A kind was chosen whose parameter fields the user has not seen yet."""
        return (
            self.is_bound
            and self.model is not None
            and bool(self.model.model_fields)
            and self.data.get(self.add_prefix("shown"), "") != self.job_kind.name
        )

    def param_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(PARAM_PREFIX)]

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.model is None or self.errors:
            return cleaned
        try:
            self.model.model_validate(self.params)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                where = [str(part) for part in error["loc"]]
                field = PARAM_PREFIX + where[0] if where else ""
                inside = f" ({'.'.join(where[1:])})" if len(where) > 1 else ""
                self.add_error(field if field in self.fields else None, f"{error['msg']}{inside}")
        return cleaned

    @property
    def params(self) -> dict:
        """The parameters given; those left empty take the kind's defaults."""
        given = {}
        for name, field in self.fields.items():
            if not name.startswith(PARAM_PREFIX) or name not in self.cleaned_data:
                continue
            value = self.cleaned_data[name]
            if isinstance(field, forms.BooleanField) or value not in (None, ""):
                given[name.removeprefix(PARAM_PREFIX)] = value
        return given
