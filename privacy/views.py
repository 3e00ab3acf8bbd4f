from django.conf import settings
from django.shortcuts import render

from .selectors import privacy_contact_email


def privacy_notice(request):
    """What is kept and why, what is erased on request, and how to ask: in the page's language."""
    context = {
        "version": settings.PRIVACY_NOTICE_VERSION,
        "contact_email": privacy_contact_email(),
        "retention_years": settings.PERSONAL_DATA_RETENTION_YEARS,
        "child_birth_days": settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS,
        "import_days": settings.IMPORT_FILES_KEPT_DAYS,
    }
    return render(request, "privacy/notice.html", context)
