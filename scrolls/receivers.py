"""Every change to a campaign or a scroll (allocation, a scroll filling and the next opening,
an edit in the admin, a siyum) refreshes the cached progress once it commits."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Campaign, Scroll
from .services import campaign_progress_changed


@receiver([post_save, post_delete], sender=Campaign, dispatch_uid="scrolls-progress-campaign")
def campaign_saved(sender, instance, **kwargs):
    campaign_progress_changed(campaign_id=instance.pk)


@receiver([post_save, post_delete], sender=Scroll, dispatch_uid="scrolls-progress-scroll")
def scroll_saved(sender, instance, **kwargs):
    campaign_progress_changed(campaign_id=instance.campaign_id)
