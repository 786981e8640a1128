"""A Django form for each report, generated from its parameter schema.

The pydantic model stays the one authority: the form only offers fitting widgets
(choices, dates, numbers with their bounds) and reads what was typed into values;
``services.report_run_create`` validates them through the model, as it does for the
API and the command, so that all three accept exactly the same parameters. The view
shows the service's problems next to their fields (``ReportForm.problems_add``).
"""

from django import forms

from apps.core.param_fields import param_field
from apps.reports.catalog import ReportDefinition

FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel (XLSX)"}


class ReportForm(forms.Form):
    """The parameters of one report plus the output format; ``params`` after is_valid()."""

    def __init__(self, *args, definition: ReportDefinition, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.definition = definition
        for name, info in definition.params.model_fields.items():
            self.fields[name] = param_field(name, info)
        self.fields["format"] = forms.ChoiceField(
            label="Format",
            choices=[(value, FORMAT_LABELS[value]) for value in definition.formats],
            initial=definition.formats[0],
        )

    @property
    def params(self) -> dict:
        """The parameters that were given (unset ones take the report's defaults)."""
        return {
            name: self.cleaned_data.get(name)
            for name in self.definition.params.model_fields
            if self.cleaned_data.get(name) not in (None, "")
        }

    def problems_add(self, problems: tuple[tuple[str, str], ...], message: str) -> None:
        """Show a refused request's problems next to their fields; ``message`` if it named none."""
        if not problems:
            self.add_error(None, message)
        for where, problem in problems:
            field = where.split(".")[0]
            self.add_error(field if field in self.fields else None, problem)
