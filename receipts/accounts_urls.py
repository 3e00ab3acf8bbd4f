from django.urls import path

from . import views

# The treasurer's view (/staff/accounts/): an organisation's month, as a page, CSV and PDF.
urlpatterns = [
    path("", views.accounts, name="accounts-report"),
    path("<slug:slug>/<str:month>.csv", views.accounts_csv, name="accounts-report-csv"),
    path("<slug:slug>/<str:month>.pdf", views.accounts_pdf, name="accounts-report-pdf"),
]
