from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TeamsConfig(AppConfig):
    """Teams (issue 20): a shliach, or an institution with several shluchim, collecting for a
    campaign under a name, with a goal in letters. The team itself and what it is made of live
    here, low enough for an order to name the team it credits (allocation.Order.team); its
    pages, leaderboards, cards and numbers are the fundraising app's, above the orders."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "teams"
    verbose_name = _("Teams")
