"""Forms of the job pages: the list's filters, and submitting a job of a kind.

The submit form's parameter fields are generated from the kind's parameter model (what
``kind.params_for`` gives the user): the model stays the one authority, the form only
offers fitting widgets and reads what was typed into values, then validates them with
the model so that its problems show next to their fields. ``services.enqueue`` checks
them once more, with the quotas, as it does for the API.
"""

import datetime
import enum
import json
import types
import typing
from decimal import Decimal
from urllib.parse import urlencode

import annotated_types
import pydantic
from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from pydantic.fields import FieldInfo

from apps.jobs.models import Queue, Status
from apps.jobs.registry import JobKind, kinds_all
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


def _limits(info: FieldInfo, *, whole: bool = False) -> dict:
    """The form field's options from the model's constraints: a number's bounds (a strict
    one only for whole numbers, where it is the next one), a text's lengths."""
    options: dict = {}
    for item in info.metadata:
        match item:
            case annotated_types.Ge(ge=value):
                options["min_value"] = value
            case annotated_types.Le(le=value):
                options["max_value"] = value
            case annotated_types.Gt(gt=value) if whole:
                options["min_value"] = value + 1
            case annotated_types.Lt(lt=value) if whole:
                options["max_value"] = value - 1
            case annotated_types.MinLen(min_length=value):
                options["min_length"] = value
            case annotated_types.MaxLen(max_length=value):
                options["max_length"] = value
    return options


def _choice_field(values: list, labels: list[str], **common) -> forms.Field:
    """A select whose values go back to the model as they were declared (ints stay ints)."""
    by_text = {str(value): value for value in values}
    choices = [(str(value), label) for value, label in zip(values, labels, strict=True)]
    if not common["required"] and common["initial"] is None:
        choices = [("", "—"), *choices]
    return forms.TypedChoiceField(choices=choices, coerce=by_text.__getitem__, empty_value=None, **common)


class JsonField(forms.CharField):
    """Any other parameter (a list, a mapping, a nested model): typed as JSON."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def to_python(self, value: str | None) -> typing.Any:
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None

    def prepare_value(self, value: typing.Any) -> typing.Any:
        return value if isinstance(value, str) else json.dumps(value)


def param_field(name: str, info: FieldInfo) -> forms.Field:
    """The form field for one parameter of a kind's model."""
    annotation = info.annotation
    union_args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in union_args:
        rest = [arg for arg in union_args if arg is not type(None)]
        annotation = rest[0] if len(rest) == 1 else typing.Any
    required = info.is_required()
    initial = None if required else info.get_default(call_default_factory=True)
    common = {
        "label": info.title or name.replace("_", " ").capitalize(),
        "help_text": info.description or "",
        "required": required,
        "initial": initial,
    }
    if annotation is bool:
        return forms.BooleanField(**{**common, "required": False})
    if typing.get_origin(annotation) is typing.Literal:
        values = list(typing.get_args(annotation))
        return _choice_field(values, [str(value) for value in values], **common)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        members = list(annotation)
        common["initial"] = initial.value if isinstance(initial, enum.Enum) else initial
        labels = [member.name.replace("_", " ") for member in members]
        return _choice_field([member.value for member in members], labels, **common)
    if annotation is int:
        return forms.IntegerField(**common, **_limits(info, whole=True))
    if annotation is float:
        step = forms.NumberInput({"step": "any"})
        return forms.FloatField(**common, **_limits(info), widget=step)
    if annotation is Decimal:
        return forms.DecimalField(**common, **_limits(info))
    if annotation is datetime.date:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common)
    if annotation is str:
        return forms.CharField(**common, **_limits(info))
    return JsonField(**common)


def kinds_submittable(*, user: AbstractBaseUser) -> list[JobKind]:
    """The kinds ``user`` may submit: public ones; every kind for staff (as POST /api/jobs)."""
    return [kind for kind in kinds_all() if kind.public or user.is_staff]


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
        allowed = {job_kind.name: job_kind for job_kind in kinds_submittable(user=user)}
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
