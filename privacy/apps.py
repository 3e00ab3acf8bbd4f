from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = _("Privacy and personal data")

    def ready(self):
        from core.privacy import shredders_register

        from . import checks  # noqa: F401  (PRIVACY_NOTICE_VERSION is set)
        from .shredders import privacy_shredders

        shredders_register.connect(privacy_shredders, dispatch_uid="privacy-shredders")
