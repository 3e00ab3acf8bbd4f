from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self):
        from . import (
            checks,  # noqa: F401 (registers the deploy check)
            receivers,  # noqa: F401 (cancels the card attempts of a cancelled order)
        )
