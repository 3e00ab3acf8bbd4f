"""The photos of paper cards' routes, added to registrations/urls.py (app_name "registrations",
under /shliach/) by `urlpatterns += card_urlpatterns`: "registrations:card-photos" etc."""

from django.urls import path

from . import cards

urlpatterns = [
    path("teams/<slug:team_slug>/cards/", cards.card_photos, name="card-photos"),
    path("cards/<int:pk>/photo", cards.card_photo, name="card-photo"),
    path("cards/<int:pk>/type/", cards.card_type, name="card-type"),
    path("cards/<int:pk>/settle/", cards.card_settle, name="card-settle"),
    path("cards/<int:pk>/delete/", cards.card_remove, name="card-delete"),
]
