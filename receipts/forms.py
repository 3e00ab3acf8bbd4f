from django import forms
from django.utils.translation import gettext_lazy as _

from scrolls.models import Campaign

from .accounts import month_parse
from .models import Organisation


class OrganisationForm(forms.ModelForm):
    """The staff's page of an organisation; the campaigns chosen are linked to it (a campaign
    moves from another organisation), those left out unlinked."""

    campaigns = forms.ModelMultipleChoiceField(
        label=_("Campaigns"),
        queryset=Campaign.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The campaigns whose receipts this organisation issues. A campaign with none issues no receipts."),
    )

    class Meta:
        model = Organisation
        fields = [
            "slug",
            "name",
            "name_he",
            "name_ru",
            "address",
            "address_he",
            "jurisdiction",
            "tax_id",
            "section_46_number",
            "section_46_expires",
            "signatory_name",
            "signatory_title",
            "logo",
            "time_zone",
        ]
        widgets = {
            "address": forms.Textarea(attrs={"rows": 3}),
            "address_he": forms.Textarea(attrs={"rows": 3, "dir": "rtl"}),
            "name_he": forms.TextInput(attrs={"dir": "rtl"}),
            "section_46_expires": forms.DateInput(attrs={"type": "date"}),
            # No "currently" link: the logo is private, served to nobody but the receipts drawn.
            "logo": forms.FileInput,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["campaigns"].initial = list(self.instance.campaign_links.values_list("campaign_id", flat=True))
            self.fields["slug"].disabled = True  # the command and the links name it


class AccountsReportForm(forms.Form):
    """The treasurer's choice: an organisation (by its slug) and a month (YYYY-MM)."""

    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.order_by("name"), to_field_name="slug", empty_label=None
    )
    month = forms.CharField(
        label=_("Month"),
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM", "dir": "ltr"}),
        help_text=_("YYYY-MM, in the organisation's time zone."),
    )

    def clean_month(self):
        try:
            return month_parse(self.cleaned_data["month"])
        except ValueError:
            raise forms.ValidationError(_("Give a month as YYYY-MM, e.g. 2026-03."), code="month") from None
