from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckoutConfig(AppConfig):
    """The doors through which buyers and staff place and pay orders: the buy and pay pages, the
    order API, and the admin's order pages. Every one calls allocation's and payments' services."""

    name = "checkout"
    verbose_name = _("Checkout")
