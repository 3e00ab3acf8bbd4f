from django.urls import path

from . import views

# The donor's links, by the order's unguessable token.
urlpatterns = [
    path("orders/<str:token>/receipt.pdf", views.receipt_download, name="receipt-download"),
    path(
        "orders/<str:token>/receipt-cancellation.pdf",
        views.receipt_cancellation_download,
        name="receipt-cancellation-download",
    ),
]
