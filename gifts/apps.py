from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GiftsConfig(AppConfig):
    """Gifts (issue 19): the e-card a name's letter is given with, emailed to its recipient on
    its day, the recipient's own page, and the buyer's view of each delivery. The gifts
    themselves are allocation's (allocation.models.Gift, written with the order)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "gifts"
    verbose_name = _("Gifts")

    def ready(self):
        from core.privacy import shredders_register

        from . import receivers  # noqa: F401  (delivers an order's gifts once its letters are allocated)
        from .shredders import gifts_shredders

        # A recipient's own data, for the privacy app's export and erasure.
        shredders_register.connect(gifts_shredders, dispatch_uid="gifts-shredders")
