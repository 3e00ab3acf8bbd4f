from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SiyumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "siyum"
    verbose_name = _("Siyum")

    def ready(self):
        from core.privacy import shredders_register

        from .shredders import siyum_shredders

        # The personal data it holds, for the privacy app's export, erasure and retention.
        shredders_register.connect(siyum_shredders, dispatch_uid="siyum-shredders")
