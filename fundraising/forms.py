import re

from crispy_forms.helper import FormHelper
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from scrolls.models import Campaign
from teams.models import TEAM_MESSAGE_MAX_LENGTH, TEAM_NAME_MAX_LENGTH, TeamKind
from teams.services import TEAM_FIELDS

from .selectors import users_by_login

# The other shluchim one team may name as members, in one form.
TEAM_MEMBERS_MAX = 50


class TeamForm(forms.Form):
    """A team's name, photo, message, goal and choices: opening it (with its campaign) and
    changing it (with its members and removing its photo). The service checks it all again."""

    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.filter(active=True).order_by("id"), empty_label=None
    )
    kind = forms.ChoiceField(label=_("Who collects"), choices=TeamKind.choices, initial=TeamKind.SHLIACH)
    name = forms.CharField(
        label=_("Team name"),
        max_length=TEAM_NAME_MAX_LENGTH,
        help_text=_("As the team calls itself; shown where no name is given in the reader's language."),
        widget=forms.TextInput(attrs={"dir": "auto"}),
    )
    name_he = forms.CharField(
        label=_("Name in Hebrew"),
        max_length=TEAM_NAME_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"dir": "rtl", "lang": "he"}),
    )
    name_en = forms.CharField(
        label=_("Name in English"),
        max_length=TEAM_NAME_MAX_LENGTH,
        required=False,
        help_text=_("The team's address is made from it (or from the team name)."),
        widget=forms.TextInput(attrs={"dir": "ltr", "lang": "en"}),
    )
    name_ru = forms.CharField(
        label=_("Name in Russian"),
        max_length=TEAM_NAME_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"dir": "ltr", "lang": "ru"}),
    )
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        help_text=_("A JPEG, PNG or WebP image. It is resized, and where and when it was taken is removed."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    message = forms.CharField(
        label=_("Message to the people who visit the team's page"),
        max_length=TEAM_MESSAGE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "dir": "auto"}),
    )
    goal_letters = forms.IntegerField(label=_("Goal in letters"), min_value=1)
    leaderboard = forms.BooleanField(
        label=_("Show the team on the campaign's leaderboard"),
        required=False,
        help_text=_("On the campaign's page, its widget and its reports, ranked by letters."),
    )
    double_entry = forms.BooleanField(
        label=_("Type each paper card twice"),
        required=False,
        help_text=_("Each card is typed by two people and saved only when both agree."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limit is a setting: read when the form is made, not when the module is imported.
        self.fields["goal_letters"] = forms.IntegerField(
            label=self.fields["goal_letters"].label, min_value=1, max_value=settings.TEAM_GOAL_MAX_LETTERS
        )
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        # Refused before it is read; teams.services re-encodes what passes (and checks it is an image).
        if photo and photo.size > settings.TEAM_PHOTO_MAX_BYTES:
            raise forms.ValidationError(
                _("The photo is larger than %(limit)s MB: send a smaller one.")
                % {"limit": f"{settings.TEAM_PHOTO_MAX_BYTES / 1_000_000:g}"}
            )
        return photo

    def team_fields(self) -> dict:
        """The fields teams.services takes as they are."""
        return {field: self.cleaned_data[field] for field in TEAM_FIELDS}


class TeamEditForm(TeamForm):
    """Changing a team: not its campaign; its photo removed, and its members named."""

    photo_remove = forms.BooleanField(label=_("Remove the photo"), required=False)
    members = forms.CharField(
        label=_("Other shluchim collecting for the team"),
        required=False,
        help_text=_("Their usernames or email addresses, one a line (or separated by commas)."),
        widget=forms.Textarea(attrs={"rows": 3, "dir": "ltr", "spellcheck": "false"}),
    )

    field_order = [
        "kind",
        "name",
        "name_he",
        "name_en",
        "name_ru",
        "photo",
        "photo_remove",
        "message",
        "goal_letters",
        "leaderboard",
        "double_entry",
        "members",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["campaign"]
        self.fields["photo"].widget = forms.FileInput(attrs={"accept": "image/*"})

    def clean_members(self):
        logins = [login for login in re.split(r"[\s,;]+", self.cleaned_data.get("members") or "") if login]
        if len(logins) > TEAM_MEMBERS_MAX:
            raise forms.ValidationError(
                _("A team can name at most %(limit)d members here.") % {"limit": TEAM_MEMBERS_MAX}
            )
        users, unknown = users_by_login(logins=logins)
        if unknown:
            raise forms.ValidationError(_("No one signs in as: %(logins)s.") % {"logins": ", ".join(unknown)})
        return users
