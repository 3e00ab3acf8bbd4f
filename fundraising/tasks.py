from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def team_goal_check(order_id):
    """A paid order's team: its owner told once it reaches its goal. Safe to run twice: the team
    is marked under a conditional update, and told only by the run that marked it."""
    services.team_goal_check(order_id=order_id)
