"""The teams' public pages, their owners' forms and their printable cards (included at the site's root)."""

from django.urls import path

from . import card_views, views

urlpatterns = [
    path("teams/new/", views.team_new, name="team-new"),
    path("teams/<slug:slug>/", views.team_page, name="team-page"),
    path("teams/<slug:slug>/edit/", views.team_edit, name="team-edit"),
    path("teams/<slug:slug>/photo/<str:filename>", views.team_photo, name="team-photo"),
    path("teams/<slug:slug>/cards.pdf", card_views.team_cards, name="team-cards"),
    path("campaigns/<slug:slug>/teams/", views.campaign_teams, name="campaign-teams"),
]
