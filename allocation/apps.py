from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AllocationConfig(AppConfig):
    name = "allocation"
    verbose_name = _("Names, orders and letters")

    def ready(self):
        from . import receivers  # noqa: F401  (connects allocation's follow-up tasks)
        from .services import honours  # noqa: F401  (reserves a new scroll's honour letters)
