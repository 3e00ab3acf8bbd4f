from django.urls import path

from . import views
from .card_urls import urlpatterns as card_urlpatterns
from .grid_urls import urlpatterns as grid_urlpatterns

app_name = "registrations"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("import/", views.import_new, name="import-new"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/status/", views.import_status, name="import-status"),
]
urlpatterns += grid_urlpatterns
urlpatterns += card_urlpatterns
