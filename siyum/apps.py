from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SiyumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "siyum"
    verbose_name = _("Siyum")
