from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = _("Privacy and personal data")

    def ready(self):
        from . import checks  # noqa: F401  (PRIVACY_NOTICE_VERSION is set)
