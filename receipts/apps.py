from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceiptsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "receipts"
    verbose_name = _("Receipts")

    def ready(self):
        from . import receivers  # noqa: F401  (numbers a receipt with the payment, a note with the refund)
