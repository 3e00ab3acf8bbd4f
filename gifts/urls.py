from django.urls import path

from . import views

urlpatterns = [
    path("gifts/<str:token>/", views.gift_page, name="gift-page"),
    path("orders/<str:token>/gifts/<int:gift_id>/resend/", views.gift_resend_view, name="gift-resend"),
]
