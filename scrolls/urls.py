from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/scrolls/<int:number>/", views.scroll_detail, name="scroll-detail"),
    path("widget/<slug:slug>/", views.widget, name="campaign-widget"),
    path("widget/<slug:slug>.js", views.widget_script, name="campaign-widget-script"),
]
