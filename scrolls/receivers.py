"""Every change to a campaign or a scroll (allocation, a scroll filling and the next opening,
an edit in the admin, a siyum) queues a refresh of the cached progress once it commits, at most
one at a time, run by a worker PROGRESS_REFRESH_SECONDS later."""

import logging

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Campaign, Scroll
from .services import campaign_progress_changed
from .signals import progress_refresh_wanted
from .tasks import refresh_progress

logger = logging.getLogger(__name__)


@receiver([post_save, post_delete], sender=Campaign, dispatch_uid="scrolls-progress-campaign")
def campaign_saved(sender, instance, **kwargs):
    campaign_progress_changed(campaign_id=instance.pk)


@receiver([post_save, post_delete], sender=Scroll, dispatch_uid="scrolls-progress-scroll")
def scroll_saved(sender, instance, **kwargs):
    campaign_progress_changed(campaign_id=instance.campaign_id)


@receiver(progress_refresh_wanted, dispatch_uid="scrolls-progress-refresh")
def progress_refresh_enqueue(sender, **kwargs):
    try:
        refresh_progress.apply_async(countdown=settings.PROGRESS_REFRESH_SECONDS)
    except Exception:  # the broker is down: the beat's refresh every minute repairs the figures
        logger.exception("Could not queue a refresh of the progress")
