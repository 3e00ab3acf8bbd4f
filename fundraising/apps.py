from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FundraisingConfig(AppConfig):
    """Teams as fundraisers (issue 20): a team's public page with its goal and progress, the
    campaigns' leaderboards, the teams' API, printable paper cards, and the owner told when the
    team reaches its goal. The teams themselves are the teams app's, below the orders."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "fundraising"
    verbose_name = _("Fundraising")

    def ready(self):
        from . import receivers  # noqa: F401  (a paid order's team: its owner told when it reaches its goal)
