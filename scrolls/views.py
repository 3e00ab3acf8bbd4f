from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt

from .models import ScriptCustom
from .selectors import campaign_public, campaigns_progress, scroll_public

# The languages the embeddable widget speaks; shluchim choose one per site.
WIDGET_LANGUAGES = ("he", "en", "ru")


def _custom_label(custom: str):
    return ScriptCustom(custom).label if custom in ScriptCustom.values else custom


def home(request):
    campaigns = [
        {"campaign": campaign, "scroll": campaign["active_scroll"], "custom_label": _custom_label(campaign["custom"])}
        for campaign in campaigns_progress().active
    ]
    return render(request, "home.html", {"campaigns": campaigns})


def _widget_campaign(slug: str) -> dict:
    campaign = campaigns_progress().by_slug.get(slug)
    if campaign is None:
        raise Http404
    return campaign


def _widget_language(request) -> str:
    language = request.GET.get("lang", "")
    return language if language in WIDGET_LANGUAGES else "en"


# Shluchim put this page in an iframe on their own sites, so it alone may be framed.
@xframe_options_exempt
def widget(request, slug):
    """The progress of a campaign's open scroll, in Hebrew, English or Russian, from the cache;
    with ?board=1, its teams' leaderboard too."""
    campaign = _widget_campaign(slug)
    language = _widget_language(request)
    with translation.override(language):
        response = render(
            request,
            "scrolls/widget.html",
            {
                "campaign": campaign,
                "scroll": campaign["active_scroll"],
                "name": campaign["name_he"] if language == "he" else campaign["name"],
                "language": language,
                "buy_url": settings.SITE_URL + reverse("order-buy", kwargs={"slug": slug}),
                # ?board=1: the campaign's team leaderboard under the progress (one query).
                "board": request.GET.get("board") == "1",
            },
        )
    response["Content-Language"] = language
    return response


def widget_script(request, slug):
    """<script src=".../widget/<slug>.js?lang=he"></script> puts the widget's iframe where the
    tag is (&board=1: with the teams' leaderboard). The slug and language are checked here, so
    the script holds only known values."""
    _widget_campaign(slug)
    language = _widget_language(request)
    board = request.GET.get("board") == "1"  # the frame shows the teams' leaderboard too
    frame_url = f"{settings.SITE_URL}{reverse('campaign-widget', kwargs={'slug': slug})}?lang={language}"
    with translation.override(language):
        response = render(
            request,
            "scrolls/widget.js",
            {"frame_url": frame_url + ("&board=1" if board else ""), "board": board},
            content_type="text/javascript; charset=utf-8",
        )
    # The script only says where the frame is; the frame carries the figures.
    response["Cache-Control"] = "public, max-age=3600"
    return response


# --- Public pages --------------------------------------------------------------------------


def campaign_detail(request, slug):
    campaign, scrolls = campaign_public(slug=slug)
    return render(request, "scrolls/campaign.html", {"campaign": campaign, "scrolls": scrolls})


def scroll_detail(request, slug, number):
    scroll = scroll_public(slug=slug, number=number)
    return render(request, "scrolls/scroll.html", {"scroll": scroll, "campaign": scroll.campaign})
