"""Under /api/v1/orders/<pk>/: the order's receipt and its cancellation, for its creator and staff."""

from django.urls import path

from . import views

urlpatterns = [
    path("receipt.pdf", views.OrderReceiptView.as_view(), name="order-receipt"),
    path("receipt-cancellation.pdf", views.OrderReceiptCancellationView.as_view(), name="order-receipt-cancellation"),
]
