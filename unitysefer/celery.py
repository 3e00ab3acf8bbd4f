import os
import time

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from core.logs import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unitysefer.settings")

app = Celery("unitysefer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The context of each running task: the request id it restored, to put back when it ends.
_restored = {}


@before_task_publish.connect(dispatch_uid="unitysefer.task_headers")
def task_headers_add(headers=None, **kwargs):
    """Each task carries the id of the request (or task) that queued it, and when it was queued:
    /metrics reads the age of the oldest task waiting in each queue from it."""
    if headers is None:
        return
    request_id = request_id_var.get()
    if request_id and "request_id" not in headers:
        headers["request_id"] = request_id
    headers["published_at"] = time.time()


@task_prerun.connect(dispatch_uid="unitysefer.task_request_id_restore")
def task_request_id_restore(task_id=None, task=None, **kwargs):
    """The task's log lines carry the request id it was queued with; a task run in-process
    (CELERY_TASK_ALWAYS_EAGER) keeps its caller's."""
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    _restored[task_id] = request_id_var.set(request_id or request_id_var.get())


@task_postrun.connect(dispatch_uid="unitysefer.task_request_id_clear")
def task_request_id_clear(task_id=None, **kwargs):
    token = _restored.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)
