from django.urls import path

from . import views

# The staff's pages for honour letters and the siyum.
app_name = "siyum"
urlpatterns = [
    path("honours/", views.honours, name="honours"),
    path("honours/<int:pk>/give/", views.honour_give, name="honour-give"),
    path("honours/<int:pk>/edit/", views.honour_edit, name="honour-edit"),
    path("honours/<int:pk>/cancel/", views.honour_cancel, name="honour-cancel"),
    path("siyum/", views.siyum_list, name="list"),
    path("siyum/<int:scroll_id>/", views.siyum_hold, name="hold"),
]
