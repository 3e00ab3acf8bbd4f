from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts.views import language_set
from checkout.api import OrderCreateView, OrderDetailView
from core.security import sign_in_rate_limited
from fundraising.api import CampaignTeamsView, TeamCreateView
from monitoring.views import metrics
from payments.views import apple_pay_domain_association, stripe_webhook
from scrolls.api import CampaignListView

from .views import healthz

api_v1 = [
    path("campaigns/", CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/<slug:slug>/scrolls/", include("scrolls.api_urls")),
    path("campaigns/<slug:slug>/teams/", CampaignTeamsView.as_view(), name="campaign-teams"),
    path("teams/", TeamCreateView.as_view(), name="team-create"),
    path("orders/", OrderCreateView.as_view(), name="order-create"),
    path("orders/<int:pk>/", OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:pk>/", include("certificates.api_urls")),
    path("orders/<int:pk>/", include("receipts.api_urls")),
]

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    # Prometheus' scrape: 404 unless METRICS_TOKEN is set, then its bearer token or 401.
    path("metrics", metrics, name="metrics"),
    # Ahead of the admin's own: its sign-in counts on the same limits as /accounts/login/.
    path("admin/login/", sign_in_rate_limited(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Django's set_language, remembering a signed-in user's choice on their profile.
    path("i18n/setlang/", language_set, name="set_language"),
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    # Apple Pay's domain verification (APPLE_PAY_DOMAIN_ASSOCIATION_FILE; 404 while unset).
    path(
        ".well-known/apple-developer-merchantid-domain-association",
        apple_pay_domain_association,
        name="apple-pay-domain-association",
    ),
    path("shliach/", include("registrations.urls")),
    path("reports/", include("reports.urls")),
    path("", include("privacy.urls")),  # /privacy/ and the staff's /staff/privacy/
    path("staff/organisations/", include("receipts.staff_urls")),
    path("staff/accounts/", include("receipts.accounts_urls")),  # the treasurer's view
    path("staff/", include("siyum.urls")),
    path("names/", include("allocation.urls")),  # the Hebrew transliteration helper
    path("", include("accounts.urls")),
    path("", include("fundraising.urls")),  # the teams' pages and cards
    path("share/", include("sharing.urls")),  # the share images of the public pages
    path("", include("gifts.urls")),  # a recipient's page, and the buyer's correction of an address
    path("", include("certificates.urls")),
    path("", include("receipts.urls")),
    path("", include("checkout.urls")),
    path("", include("scrolls.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
