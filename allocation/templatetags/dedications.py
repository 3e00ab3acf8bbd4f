from django import template

from ..models import DEDICATION_HEBREW

register = template.Library()


@register.filter
def dedication_hebrew(kind: str) -> str:
    """A dedication's customary Hebrew words (לעילוי נשמת); "" for none."""
    return DEDICATION_HEBREW.get(kind, "")
