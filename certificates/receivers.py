"""What certificates does when allocation announces (connected in CertificatesConfig.ready)."""

from django.conf import settings
from django.dispatch import receiver

from allocation.signals import letters_allocated, name_corrected
from core.tasks import enqueue

from .services import CERTIFICATE_NAME_FIELDS
from .tasks import issue_order_certificates, redraw_certificate


@receiver(letters_allocated, dispatch_uid="certificates-issue")
def certificates_issue_enqueue(sender, order_id, **kwargs):
    if settings.CERTIFICATES_ISSUE_WHEN_ALLOCATED:
        enqueue(issue_order_certificates, order_id)


@receiver(name_corrected, dispatch_uid="certificates-redraw")
def certificate_redraw_enqueue(sender, name_id, fields, **kwargs):
    """A correction of what a certificate prints draws it again, with the same code."""
    if CERTIFICATE_NAME_FIELDS & fields:
        enqueue(redraw_certificate, name_id)
