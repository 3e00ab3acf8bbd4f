from email.utils import parseaddr

from django.conf import settings


def privacy_contact_email() -> str:
    """Where people write about their data: PRIVACY_CONTACT_EMAIL, else the address we send from."""
    return settings.PRIVACY_CONTACT_EMAIL or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
