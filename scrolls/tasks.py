from celery import shared_task

from . import services
from .models import Campaign


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def repair_campaign_progress(campaign_id):
    services.campaign_progress_repair(campaign_id=campaign_id)


@shared_task(ignore_result=True)
def refresh_progress():
    """Queued once a change committed (at most one waiting at a time), and every minute by the
    beat: rebuild the cached progress of every campaign. Twice is harmless."""
    services.campaign_progress_refresh_queued()


@shared_task
def repair_progress():
    """Periodic (celery beat): recount every campaign's letters, one task per campaign."""
    for campaign_id in Campaign.objects.values_list("id", flat=True):
        repair_campaign_progress.delay(campaign_id)
