from celery import shared_task

from . import services


@shared_task
def verify_integrity():
    """Nightly (celery beat): every invariant checked; staff emailed on a breach. Safe to run
    twice (it reads, and at worst emails twice)."""
    services.integrity_verify_and_alert()
