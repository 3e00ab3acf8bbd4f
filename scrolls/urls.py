from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("widget/<slug:slug>/", views.widget, name="campaign-widget"),
    path("widget/<slug:slug>.js", views.widget_script, name="campaign-widget-script"),
]
