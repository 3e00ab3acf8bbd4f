from django.urls import path, register_converter

from . import views


class DateConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return str(value)


register_converter(DateConverter, "isodate")

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.dashboard, name="dashboard"),
    path("<slug:slug>/week-ending-<isodate:week>.pdf", views.report_pdf, name="pdf"),
    path("<slug:slug>/week-ending-<isodate:week>.csv", views.report_csv, name="csv"),
]
