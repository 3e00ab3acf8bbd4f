from django.urls import path

from . import views

urlpatterns = [
    path("transliterate/", views.names_transliterate, name="names-transliterate"),
]
