from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _


class AddressForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"dir": "ltr", "autocomplete": "off"})
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True


class ErasureForm(forms.Form):
    """Staff erase an address's data: they say why, and that they mean it."""

    email = forms.EmailField(widget=forms.HiddenInput, max_length=254)
    reason = forms.CharField(
        label=_("Why (kept in the privacy log)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: asked by email on 3 December, ticket 1234."),
    )
    confirm = forms.BooleanField(
        label=_("I understand that this cannot be undone."),
        error_messages={"required": _("Tick the box to confirm the erasure.")},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "erase_%s")  # the page's look-up form has its own id_email
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the data are erased."))
        return reason
