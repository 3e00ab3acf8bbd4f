from django.urls import path

from . import views

# The public pages: the privacy notice.
app_name = "privacy"
urlpatterns = [
    path("", views.privacy_notice, name="notice"),
]
