"""The grid's routes, added to registrations/urls.py (app_name "registrations") by
`urlpatterns += grid_urlpatterns`, so they are reversed as "registrations:grid" etc."""

from django.urls import path

from . import grid

urlpatterns = [
    path("grid/<slug:slug>/", grid.grid_page, name="grid"),
    path("grid/<slug:slug>/draft/", grid.grid_draft, name="grid-draft"),
    path("grid/<slug:slug>/submit/", grid.grid_submit, name="grid-submit"),
]
