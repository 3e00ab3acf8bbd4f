from django.urls import path

from . import views

# The staff's pages of the organisations behind the campaigns.
app_name = "receipts"
urlpatterns = [
    path("", views.organisations, name="organisations"),
    path("new/", views.organisation_new, name="organisation-new"),
    path("<slug:slug>/", views.organisation_edit, name="organisation-edit"),
]
