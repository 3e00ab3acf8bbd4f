"""Public API routes under /api/v1/campaigns/<slug>/scrolls/ (included by unitysefer.urls)."""

from django.urls import path

from .api import ScrollPositionView

urlpatterns = [
    path("<int:number>/positions/<int:position>/", ScrollPositionView.as_view(), name="scroll-position"),
]
