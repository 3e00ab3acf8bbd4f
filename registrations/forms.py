from crispy_forms.helper import FormHelper
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from scrolls.models import Campaign

from .models import ImportPayment


class ImportForm(forms.Form):
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.filter(active=True).order_by("id"), empty_label=None
    )
    file = forms.FileField(
        label=_("Spreadsheet (CSV or XLSX)"),
        required=False,
        help_text=_(
            "The first row names the columns: hebrew_name, parent_hebrew_name, gender, and any of "
            "english_name, family_name, deceased, date_of_birth, city, country, dedication_kind, dedication_text, "
            "listed (or their Hebrew names)."
        ),
    )
    pasted = forms.CharField(
        label=_("Or paste rows copied from a spreadsheet, the header row first"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "dir": "auto", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)d MB: split it into several.")
                % {"size": settings.IMPORT_MAX_BYTES // 1_000_000}
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("file") and not (cleaned.get("pasted") or "").strip():
            raise forms.ValidationError(_("Choose a file or paste the rows."))
        if cleaned.get("file") and (cleaned.get("pasted") or "").strip():
            raise forms.ValidationError(_("Choose a file or paste the rows, not both."))
        return cleaned


class ConfirmForm(forms.Form):
    payment_method = forms.ChoiceField(label=_("How are these names paid for?"), widget=forms.RadioSelect)
    payment_reference = forms.CharField(
        label=_("Receipt or transfer reference (cash, cheque or transfer)"), max_length=200, required=False
    )

    def __init__(self, *args, payment_choices, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(ImportPayment.choices)
        self.fields["payment_method"].choices = [(choice, labels[choice]) for choice in payment_choices]
        self.fields["payment_method"].initial = payment_choices[0]
        if ImportPayment.OFFLINE not in payment_choices:
            del self.fields["payment_reference"]
        self.helper = FormHelper()
        self.helper.form_tag = False
