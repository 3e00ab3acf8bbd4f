"""The teams' public pages, their owners' forms and their printable cards (included at the site's root)."""

from django.urls import path  # noqa: F401  (the routes below are added as the pages are)

urlpatterns = []
