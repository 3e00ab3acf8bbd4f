import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unitysefer.settings")
application = get_wsgi_application()


def urls_load():
    """Import the URLconf, and with it every view and what they import (WeasyPrint among them),
    while the worker starts: Django would do it in the first request each worker serves, which
    under load costs that request, and every request queued behind it, a second or more."""
    get_resolver().url_patterns  # noqa: B018  (the attribute loads the URLconf)


urls_load()
