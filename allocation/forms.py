from typing import NamedTuple

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import DEDICATION_TEXT_MAX_LENGTH, GIFT_MESSAGE_MAX_LENGTH, DedicationKind, Gender, GiftLanguage
from .validators import normalize_hebrew_name, validate_hebrew_name, validate_visible_characters

MAX_NAMES_ON_THE_PAGE = 50


class HebrewNameField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 100)
        super().__init__(**kwargs)
        # data-hebrew-input: static/js/hebrew_input.js adds its keyboard and suggestions.
        self.widget.attrs.update({"dir": "rtl", "lang": "he", "autocomplete": "off", "data-hebrew-input": True})

    def clean(self, value):
        value = normalize_hebrew_name(value)
        if not value and not self.required:
            return value
        validate_hebrew_name(value)
        return super().clean(value)


GIFT_FORM_FIELDS = ("gift_recipient_name", "gift_recipient_email", "gift_language", "gift_deliver_on", "gift_message")


class NameFormRules(NamedTuple):
    """Everything of a campaign that shapes its name form (NameForm reads no other field), so
    the blank buy page's forms can be rendered once per rules and language."""

    requires_date_of_birth: bool
    for_the_departed: bool
    parent_is_father: bool

    @classmethod
    def of(cls, campaign):
        return cls(campaign.requires_date_of_birth, campaign.for_the_departed, campaign.parent_is_father)


class NameForm(forms.Form):
    hebrew_name = HebrewNameField(label=_("Hebrew name"))
    gender = forms.ChoiceField(
        label=_("Son or daughter"),
        choices=[(Gender.MALE, _("ben (son of)")), (Gender.FEMALE, _("bas (daughter of)"))],
        initial=Gender.MALE,
    )
    parent_hebrew_name = HebrewNameField(
        label=_("Mother's Hebrew name"),
        help_text=_("For the departed, the father's name is customary."),
    )
    english_name = forms.CharField(label=_("English name (optional)"), max_length=200, required=False)
    date_of_birth = forms.DateField(
        label=_("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date", "dir": "ltr"})
    )
    deceased = forms.BooleanField(label=_("In memory of (deceased)"), required=False)
    dedication_kind = forms.ChoiceField(
        label=_("Dedication"), choices=DedicationKind.choices, initial=DedicationKind.NONE, required=False
    )
    dedication_text = forms.CharField(
        label=_("Dedication text (optional)"),
        max_length=DEDICATION_TEXT_MAX_LENGTH,
        required=False,
        validators=[validate_visible_characters],
        widget=forms.TextInput(attrs={"dir": "auto"}),
    )
    listed = forms.BooleanField(
        label=_("List this name publicly"),
        required=False,
        help_text=_("Shown on the scroll's public page and found by its search; otherwise never shown publicly."),
    )
    # A gift (issue 19): under "This letter is a gift" (a <details>, no script); gift_* become
    # the name's `gift` for name_clean when anything of it is given.
    gift_recipient_name = forms.CharField(
        label=_("Recipient's name"), max_length=200, required=False, validators=[validate_visible_characters]
    )
    gift_recipient_email = forms.EmailField(
        label=_("Recipient's email"), required=False, widget=forms.EmailInput(attrs={"dir": "ltr"})
    )
    gift_language = forms.ChoiceField(
        label=_("Language of the e-card"), choices=[("", _("As this page")), *GiftLanguage.choices], required=False
    )
    gift_deliver_on = forms.DateField(
        label=_("Deliver on (optional)"),
        required=False,
        help_text=_("Left empty, it is sent once the letter is written."),
        widget=forms.DateInput(attrs={"type": "date", "dir": "ltr"}),
    )
    gift_message = forms.CharField(
        label=_("Message (optional)"),
        max_length=GIFT_MESSAGE_MAX_LENGTH,
        required=False,
        validators=[validate_visible_characters],
        widget=forms.Textarea(attrs={"rows": 2, "dir": "auto"}),
    )

    def __init__(self, *args, campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        # The campaign's own rules shape the form; allocation.services.name_clean enforces them.
        rules = NameFormRules.of(campaign)
        if rules.requires_date_of_birth:
            self.fields["date_of_birth"].required = True
        else:
            del self.fields["date_of_birth"]
        parent = self.fields["parent_hebrew_name"]
        parent.label = campaign.parent_name_label  # follows parent_is_father
        if rules.for_the_departed or rules.parent_is_father:
            parent.help_text = ""
        if rules.for_the_departed:
            del self.fields["deceased"]  # every name here is in memory of the departed
            del self.fields["dedication_kind"]
        else:
            self.fields["deceased"].widget.attrs["class"] = "js-deceased"
            if not rules.parent_is_father:
                parent.widget.attrs["data-label-living"] = _("Mother's Hebrew name")
                parent.widget.attrs["data-label-deceased"] = _("Father's Hebrew name")
        # The gift's fields folded under their summary, after the name's own.
        plain = [field for field in self.fields if not field.startswith("gift_")]
        self.helper.layout = Layout(
            *plain,
            HTML(format_html('<details class="gift mb-3"><summary>{}</summary>', gettext("This letter is a gift"))),
            *GIFT_FORM_FIELDS,
            HTML("</details>"),
        )

    def clean(self):
        cleaned = super().clean()
        given = {field.removeprefix("gift_"): cleaned.get(field) for field in GIFT_FORM_FIELDS}
        if any(value not in (None, "") for value in given.values()):
            cleaned["gift"] = given  # name_clean says what is missing, beside the field
        return cleaned

    def has_changed(self):
        # A row left as it came posts the dedication "none": it is still an empty row.
        return any(
            field != "dedication_kind" or self[field].data not in (None, "", DedicationKind.NONE)
            for field in self.changed_data
        )


class BaseNameFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        if not [form for form in self.forms if form.cleaned_data]:
            raise ValidationError(_("Add at least one name."))


NameFormSet = formset_factory(
    NameForm,
    formset=BaseNameFormSet,
    extra=1,
    # The rows the page offers; how many names an order may carry is checkout's policy
    # (ANONYMOUS_ORDER_MAX_NAMES), which says so in its own words. A crafted post builds at most
    # absolute_max forms (Django's default would be a thousand more).
    max_num=MAX_NAMES_ON_THE_PAGE,
    absolute_max=2 * MAX_NAMES_ON_THE_PAGE,
)


class BuyerForm(forms.Form):
    buyer_name = forms.CharField(label=_("Your name"), max_length=200, validators=[validate_visible_characters])
    buyer_email = forms.EmailField(label=_("Your email"), help_text=_("Your letters and certificates are sent here."))
    buyer_phone = forms.CharField(
        label=_("Phone (optional)"), max_length=40, required=False, validators=[validate_visible_characters]
    )
    amount = forms.DecimalField(
        label=_("Give more (optional)"),
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        help_text=_("Leave empty to pay the suggested price."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.fields["buyer_email"].widget.attrs["dir"] = "ltr"
        self.fields["buyer_phone"].widget.attrs["dir"] = "ltr"
        self.fields["amount"].widget.attrs["dir"] = "ltr"


class ConsentForm(forms.Form):
    """The consent to the privacy notice, asked wherever a person gives names (the buy page, an
    import's confirmation, the grid); drawn by templates/allocation/_consent.html with the link
    to the notice. Its moment and the notice's version are recorded with the order."""

    consent = forms.BooleanField(
        error_messages={"required": _("Please agree to the privacy notice to continue.")},
    )
