"""What fundraising does when allocation announces (connected in FundraisingConfig.ready)."""

from django.dispatch import receiver

from allocation.models import OrderStatus
from allocation.signals import order_status_changed
from core.tasks import enqueue

from .tasks import team_goal_check


@receiver(order_status_changed, dispatch_uid="fundraising-team-goal")
def team_goal_check_enqueue(sender, order_id, new, team_id=None, **kwargs):
    # Sent once the payment committed: the task counts committed letters. Most orders count for
    # no team: the announcement says which, so nothing is read for them.
    if new == OrderStatus.PAID and team_id is not None:
        enqueue(team_goal_check, order_id)
