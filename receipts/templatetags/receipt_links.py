from django import template

from receipts.selectors import order_receipts_describe

register = template.Library()


@register.simple_tag(takes_context=True)
def order_receipts(context, order):
    """{"receipt": ..., "cancellation": ...}: each {number, issued_at, download_url} or None."""
    return order_receipts_describe(order=order, request=context.get("request"))
