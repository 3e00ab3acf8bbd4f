from django.urls import path

from . import views

# The donor's links: by the order's unguessable token, and the annual statement by an emailed,
# signed link.
urlpatterns = [
    path("receipts/statement/", views.statement_request, name="receipts-statement-request"),
    path("receipts/statement/<str:signed>/", views.statement_download, name="receipts-statement"),
    path("orders/<str:token>/receipt.pdf", views.receipt_download, name="receipt-download"),
    path(
        "orders/<str:token>/receipt-cancellation.pdf",
        views.receipt_cancellation_download,
        name="receipt-cancellation-download",
    ),
]
