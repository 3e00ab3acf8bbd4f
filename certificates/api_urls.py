"""Under /api/v1/orders/<pk>/: the order's files, for its creator and staff."""

from django.urls import path

from . import views

urlpatterns = [
    path("certificates/<str:code>.pdf", views.OrderCertificateFileView.as_view(), name="order-certificate"),
    path("booklet.pdf", views.OrderBookletView.as_view(), name="order-booklet"),
    path("letters.csv", views.OrderLettersCsvView.as_view(), name="order-letters-csv"),
]
