from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_personal_data_link(email, language=""):
    """The address is the task's argument, as for the letters' lookup: it is what was asked."""
    services.personal_data_link_send(email=email, language=language)


@shared_task
def expire_personal_data():
    """Daily (celery beat): what has been kept longer than the settings allow is erased."""
    services.personal_data_expire()
