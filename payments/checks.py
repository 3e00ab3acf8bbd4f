import os

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def demo_payments_check(app_configs, **kwargs):
    """A production server that takes the demo provider's word for a payment gives letters away."""
    if settings.DEMO_PAYMENTS and not settings.STRIPE_SECRET_KEY:
        return [
            Warning(
                "DEMO_PAYMENTS is on and no STRIPE_SECRET_KEY is set: buyers 'pay' on the demo page.",
                hint="Set STRIPE_SECRET_KEY, or DEMO_PAYMENTS=false.",
                id="payments.W001",
            )
        ]
    return []


@register(deploy=True)
def apple_pay_file_check(app_configs, **kwargs):
    """The Apple Pay domain association file named but not readable: Apple Pay stays off."""
    path = settings.APPLE_PAY_DOMAIN_ASSOCIATION_FILE
    if path and not os.access(path, os.R_OK):
        return [
            Warning(
                f"APPLE_PAY_DOMAIN_ASSOCIATION_FILE {path!r} cannot be read: "
                "/.well-known/apple-developer-merchantid-domain-association answers 404.",
                hint="Download the file from the Stripe dashboard (Settings > Payment method domains) to that path.",
                id="payments.W002",
            )
        ]
    return []
