from django.urls import path

from . import views

# Public pages of a campaign's scrolls, and the staff's pages for honour letters and the siyum.
public_urlpatterns = [
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/scrolls/<int:number>/", views.scroll_detail, name="scroll-detail"),
]

app_name = "siyum"
urlpatterns = [
    path("honours/", views.honours, name="honours"),
    path("honours/<int:pk>/give/", views.honour_give, name="honour-give"),
    path("honours/<int:pk>/edit/", views.honour_edit, name="honour-edit"),
    path("honours/<int:pk>/cancel/", views.honour_cancel, name="honour-cancel"),
    path("siyum/", views.siyum_list, name="list"),
    path("siyum/<int:scroll_id>/", views.siyum_hold, name="hold"),
]
