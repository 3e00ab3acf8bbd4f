from django.http import JsonResponse
from django.urls import include, path


def trivial(request):
    """What a request costs with no work in it: the yardstick for /api/v1/campaigns/."""
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/trivial/", trivial),
    path("", include("unitysefer.urls")),
]
