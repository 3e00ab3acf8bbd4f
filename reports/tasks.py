import datetime

from celery import shared_task

from . import selectors, services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=8)
def send_weekly_report(campaign_id, week_ending):
    services.weekly_report_send(campaign_id=campaign_id, week_ending=datetime.date.fromisoformat(week_ending))


@shared_task
def send_weekly_reports():
    """Periodic (celery beat, hourly on Fridays): queue the report of each campaign whose week
    has just ended in its own time zone and has not been sent."""
    for campaign_id, week_ending in selectors.weekly_reports_due():
        send_weekly_report.delay(campaign_id, week_ending.isoformat())
