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
