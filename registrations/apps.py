from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "registrations"
    verbose_name = _("Bulk registration")

    def ready(self):
        from core.privacy import shredders_register

        from .shredders import registrations_shredders

        # The personal data it holds, for the privacy app's export, erasure and retention.
        shredders_register.connect(registrations_shredders, dispatch_uid="registrations-shredders")
