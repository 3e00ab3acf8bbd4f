from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    """Keeping the data sound: the integrity check of every invariant, and proven backups."""

    name = "operations"
    verbose_name = _("Operations")
