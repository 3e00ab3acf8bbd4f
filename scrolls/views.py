from django.shortcuts import render

from .selectors import campaign_list_active, campaign_open_scroll


def home(request):
    campaigns = [
        {"campaign": campaign, "scroll": campaign_open_scroll(campaign=campaign)}
        for campaign in campaign_list_active()
    ]
    return render(request, "home.html", {"campaigns": campaigns})
