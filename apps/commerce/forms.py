from django import forms

from apps.commerce.services import IMPORT_TABLES, TABLES

IMPORT_TABLE_CHOICES = [
    (name, f"{str(TABLES[name].model._meta.verbose_name_plural).capitalize()} ({TABLES[name].filename})")
    for name in IMPORT_TABLES
]


class ImportForm(forms.Form):
    table = forms.ChoiceField(label="Table", choices=IMPORT_TABLE_CHOICES)
    file = forms.FileField(
        label="CSV file",
        help_text="In the column layout `tpchgen-cli csv` writes, with its header line.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
