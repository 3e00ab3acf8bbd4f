"""System checks of the privacy settings (`manage.py check`)."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def privacy_settings_check(app_configs, **kwargs):
    errors = []
    if not str(settings.PRIVACY_NOTICE_VERSION or "").strip():
        errors.append(
            Error(
                "PRIVACY_NOTICE_VERSION is empty: every consent is recorded with the notice's version.",
                id="privacy.E001",
            )
        )
    if len(str(settings.PRIVACY_NOTICE_VERSION)) > 32:
        errors.append(Error("PRIVACY_NOTICE_VERSION is longer than 32 characters.", id="privacy.E002"))
    if settings.PERSONAL_DATA_RETENTION_YEARS < 0:
        errors.append(Error("PERSONAL_DATA_RETENTION_YEARS cannot be negative.", id="privacy.E003"))
    days = settings.ERASE_CHILD_BIRTH_DATES_AFTER_DAYS
    if days is not None and days < 0:
        errors.append(Error("ERASE_CHILD_BIRTH_DATES_AFTER_DAYS cannot be negative.", id="privacy.E004"))
    return errors
