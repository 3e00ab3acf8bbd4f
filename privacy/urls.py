from django.urls import path

from . import views

# The privacy notice, and the staff's pages (what is held about an address, its export and its
# erasure, the privacy log). Included at the site's root.
app_name = "privacy"
urlpatterns = [
    path("privacy/", views.privacy_notice, name="notice"),
    path("privacy/export/", views.self_export, name="self-export"),
    path("privacy/export/<str:token>/", views.self_export_download, name="self-export-download"),
    path("staff/privacy/", views.staff_privacy, name="staff"),
    path("staff/privacy/export/", views.staff_export, name="staff-export"),
    path("staff/privacy/erase/", views.staff_erase, name="staff-erase"),
]
