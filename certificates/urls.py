from django.urls import path

from . import views

urlpatterns = [
    path("verify/<str:code>/", views.certificate_verify, name="certificate-verify"),
    path("letters/lookup/", views.letters_lookup, name="letters-lookup"),
    path("letters/lookup/name/", views.letters_lookup_name, name="letters-lookup-name"),
    path("campaigns/<slug:slug>/scrolls/<int:number>/names/", views.scroll_names, name="scroll-names"),
    path(
        "campaigns/<slug:slug>/scrolls/<int:number>/letters/<int:position>/",
        views.letter_detail,
        name="letter-detail",
    ),
    path("orders/<str:token>/certificates/booklet.pdf", views.order_booklet, name="order-booklet"),
    path("orders/<str:token>/certificates/<str:code>.pdf", views.certificate_download, name="certificate-download"),
    path("orders/<str:token>/letters.csv", views.order_letters_csv, name="order-letters-csv"),
]
