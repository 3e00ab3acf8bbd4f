from django import template

from ..selectors import order_gifts as order_gifts_select

register = template.Library()


@register.simple_tag
def order_gifts(order):
    """The order's gifts, for its page (templates/gifts/_order_gifts.html)."""
    return order_gifts_select(order=order)
