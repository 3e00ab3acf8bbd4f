from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScrollsConfig(AppConfig):
    name = "scrolls"
    verbose_name = _("Campaigns and scrolls")

    def ready(self):
        from . import receivers  # noqa: F401  (connects the progress cache to every change)
