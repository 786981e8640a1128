from django import forms

from apps.notifications.models import Channel, Event


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where events are POSTed, signed per Standard Webhooks.",
    )
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=Event.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )


class PreferencesForm(forms.Form):
    """One checkbox per (event, channel): field ``<event>__<channel>``."""

    def __init__(self, *args, initial_choices: dict[tuple[str, str], bool], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for event in Event.values:
            for channel in Channel.values:
                self.fields[self.field_name(event, channel)] = forms.BooleanField(
                    required=False, initial=initial_choices[(event, channel)]
                )

    @staticmethod
    def field_name(event: str, channel: str) -> str:
        return f"{event.replace('.', '_')}__{channel}"

    def rows(self) -> list[tuple[str, list]]:
        return [
            (label, [self[self.field_name(event, channel)] for channel in Channel.values])
            for event, label in Event.choices
        ]

    def choices(self) -> dict[tuple[str, str], bool]:
        return {
            (event, channel): self.cleaned_data[self.field_name(event, channel)]
            for event in Event.values
            for channel in Channel.values
        }
