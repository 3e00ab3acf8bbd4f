"""What fundraising does when allocation announces (connected in FundraisingConfig.ready)."""

from django.dispatch import receiver

from allocation.models import Order, OrderStatus
from allocation.signals import order_status_changed
from core.tasks import enqueue

from .tasks import team_goal_check


@receiver(order_status_changed, dispatch_uid="fundraising-team-goal")
def team_goal_check_enqueue(sender, order_id, new, **kwargs):
    # Sent once the payment committed: the task counts committed letters. Most orders count for
    # no team: one indexed look rather than a task queued and run for each.
    if new == OrderStatus.PAID and Order.objects.filter(pk=order_id, team__isnull=False).exists():
        enqueue(team_goal_check, order_id)
