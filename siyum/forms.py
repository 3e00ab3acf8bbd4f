from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from allocation.forms import NameForm
from scrolls.models import Scroll, ScrollState

# What a name needs (allocation.services.name_clean reads these); the rest of the form is ours.
NAME_FIELDS = (
    "hebrew_name", "gender", "parent_hebrew_name", "family_name", "english_name", "date_of_birth", "deceased",
    "dedication_kind", "dedication_text", "listed",
)  # fmt: skip


def _helper() -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    return helper


class ReservationForm(forms.Form):
    scroll = forms.ModelChoiceField(
        label=_("Scroll"),
        queryset=Scroll.objects.filter(state=ScrollState.OPEN).select_related("campaign").order_by("campaign__name"),
    )
    position = forms.IntegerField(
        label=_("Letter (position)"), min_value=1, widget=forms.NumberInput(attrs={"dir": "ltr"})
    )
    honouree = forms.CharField(label=_("Honouree"), max_length=200)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()


class HonoureeForm(forms.Form):
    """Who an honour letter not yet given is kept for, as staff know them, and a note."""

    honouree = forms.CharField(label=_("Honouree"), max_length=200)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()


class HonourForm(NameForm):
    """The honouree's name as written in the scroll, and where the certificate goes."""

    family_name = forms.CharField(label=_("Family name (optional)"), max_length=100, required=False)
    email = forms.EmailField(
        label=_("Email (optional)"),
        required=False,
        help_text=_("The certificate and the siyum's notice are sent here."),
        widget=forms.EmailInput(attrs={"dir": "ltr"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()

    def name_data(self) -> dict:
        return {field: self.cleaned_data.get(field) for field in NAME_FIELDS}


class SiyumForm(forms.Form):
    held_on = forms.DateField(label=_("Held on"), widget=forms.DateInput(attrs={"type": "date", "dir": "ltr"}))
    place = forms.CharField(label=_("Place"), max_length=200)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    confirm = forms.BooleanField(
        label=_("I confirm: the siyum has been held, these honour letters are written, and everyone holding a "
                "letter in this scroll is to be emailed. This cannot be undone."),
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper()
