from django.urls import path

from core.security import password_reset_rate_limited, sign_in_rate_limited

from . import views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", sign_in_rate_limited(views.SignInView.as_view()), name="login"),
    path("accounts/logout/", views.SignOutView.as_view(), name="logout"),
    path("accounts/password_reset/", password_reset_rate_limited(views.password_reset), name="password_reset"),
    path("accounts/password_reset/done/", views.password_reset_done, name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("accounts/reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("r/<str:code>/", views.referral, name="referral"),
]
