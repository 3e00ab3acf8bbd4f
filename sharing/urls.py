from django.urls import path

from . import views

app_name = "sharing"

urlpatterns = [
    path("site/<str:version>.png", views.site_image, name="site"),
    path("campaigns/<slug:slug>/<str:version>.png", views.campaign_image, name="campaign"),
    path("campaigns/<slug:slug>/scrolls/<int:number>/<str:version>.png", views.scroll_image, name="scroll"),
    path("letters/<str:code>/<str:version>.png", views.letter_image, name="letter"),
    path(
        "campaigns/<slug:slug>/scrolls/<int:number>/letters/<int:position>/<str:version>.png",
        views.position_image,
        name="position",
    ),
]
