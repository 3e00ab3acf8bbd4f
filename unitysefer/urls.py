from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from allocation.api import OrderCreateView, OrderDetailView
from payments.views import stripe_webhook
from scrolls.api import CampaignListView

from .views import healthz

api_v1 = [
    path("campaigns/", CampaignListView.as_view(), name="campaign-list"),
    path("orders/", OrderCreateView.as_view(), name="order-create"),
    path("orders/<int:pk>/", OrderDetailView.as_view(), name="order-detail"),
]

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    path("", include("allocation.urls")),
    path("", include("scrolls.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
