"""Form fields generated from a pydantic model's fields: the job submit form's and the
report forms' parameters.

The model stays the one authority: a field only offers a fitting widget (a select, a date,
a number with its bounds, a text with its lengths, JSON for anything else) and reads what
was typed into a value that the model then validates.
"""

import datetime
import enum
import json
import types
import typing
from decimal import Decimal

import annotated_types
from django import forms
from pydantic.fields import FieldInfo


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
