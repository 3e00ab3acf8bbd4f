import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unitysefer.settings")

app = Celery("unitysefer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
